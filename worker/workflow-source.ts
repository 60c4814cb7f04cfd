/**
 * Where the worker takes its workflow code from. The production build (`npm run build`, scripts/build.ts) writes the
 * bundle beside the compiled code, and the compiled worker takes it: no webpack at start (seconds of CPU and tens of
 * MB that the process would keep), the very code the build holds. Run from the TypeScript sources (tsx: `npm run dev`,
 * tests, `bin/signflow.js`), the worker bundles `workflows/` at start, as before, so an edit is never shadowed by an
 * old bundle.
 */
import fs from 'node:fs';
import path from 'node:path';
import { limitWorkflowStackTraces } from './workflow-stack-traces';

/** The bundle's file name in the build's root folder (`dist/workflow-bundle.js`). */
export const BUNDLE_FILE = 'workflow-bundle.js';

export type WorkflowSource =
  | { workflowBundle: { codePath: string } }
  | { workflowsPath: string; bundlerOptions: { webpackConfigHook: typeof limitWorkflowStackTraces } };

/** The build's bundle when this module runs compiled and the bundle is there; undefined from the sources. */
export function prebuiltBundle(): string | undefined {
  if (path.extname(__filename) !== '.js') return undefined;
  const codePath = path.join(__dirname, '..', BUNDLE_FILE);
  return fs.existsSync(codePath) ? codePath : undefined;
}

/** An explicit bundle (`--workflow-bundle`, tests) wins; then the build's; else `workflows/` bundled at start. */
export function workflowSource(explicit?: { codePath: string }): WorkflowSource {
  const codePath = explicit?.codePath ?? prebuiltBundle();
  return codePath
    ? { workflowBundle: { codePath } }
    : // The same bundle settings as the build's (worker/workflow-stack-traces.ts).
      {
        workflowsPath: require.resolve('../workflows'),
        bundlerOptions: { webpackConfigHook: limitWorkflowStackTraces },
      };
}
