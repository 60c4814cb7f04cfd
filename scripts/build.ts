/**
 * `npm run build`: the production build into `dist/` (git-ignored). Production runs it with plain `node`
 * (`node dist/cli/main.js worker`, docs/ops.md): no TypeScript compiler in the running process, which measured
 * ~45 MB less RSS for the worker than the same code through tsx (docs/benchmarks.md, "Target 4").
 *
 * 1. `tsc -p tsconfig.build.json` (type check of the product code; nothing is written on a type error);
 * 2. the files the compiled code reads beside itself: package.json (the CLI's version), templates, the portal's static files, the Konnektor WSDLs, the
 *    PDF thread's entry;
 * 3. the workflow bundle (`bundleWorkflowCode`, Temporal's practice for production), so the worker starts without
 *    webpack: `dist/workflow-bundle.js`, which the compiled worker takes by default (worker/workflow-source.ts);
 * 4. `dist/build-info.json`: a digest of every compiled source, so the compiled worker says at start when the checkout
 *    changed since the build (worker/build-freshness.ts).
 *
 * `npm run dev`, the tests and `bin/signflow.js` keep running the TypeScript sources through tsx; only what is started
 * from `dist/` uses the build.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { quietBundlerLogger } from '../worker/bundler-logger';
import { writeBuildInfo } from '../worker/build-freshness';
import { BUNDLE_FILE } from '../worker/workflow-source';
import { limitWorkflowStackTraces } from '../worker/workflow-stack-traces';

const ROOT = path.resolve(__dirname, '..');

/** Read by the compiled code relative to its own file (`__dirname`), so copied to the same place under `dist/`. */
const ASSETS = [
  'package.json',
  'templates',
  'api/portal/static',
  'activities/konnektor/wsdl',
  'documents/pdf-thread.js',
];

export interface BuildResult {
  outDir: string;
  bundlePath: string;
}

/** Builds into `outDir` (default `dist/`), after removing it: no output of a deleted source file survives. */
export async function buildProduction(outDir: string = path.join(ROOT, 'dist')): Promise<BuildResult> {
  fs.rmSync(outDir, { recursive: true, force: true });
  const tsc = spawnSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', outDir],
    { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] }
  );
  if (tsc.status !== 0) throw new Error(`tsc -p tsconfig.build.json failed (exit ${tsc.status ?? tsc.signal})`);
  // Before the assets are copied: only compiled files have a source to record.
  writeBuildInfo(ROOT, outDir);
  for (const asset of ASSETS) {
    fs.cpSync(path.join(ROOT, asset), path.join(outDir, asset), { recursive: true });
  }
  // Bundled from the compiled files, so the bundle is the very code the build holds.
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(outDir, 'workflows', 'index.js'),
    failureConverterPath: path.join(outDir, 'codec', 'failure-converter.js'),
    logger: quietBundlerLogger,
    webpackConfigHook: limitWorkflowStackTraces,
  });
  const bundlePath = path.join(outDir, BUNDLE_FILE);
  fs.writeFileSync(bundlePath, code);
  return { outDir, bundlePath };
}

if (require.main === module) {
  const args = process.argv.slice(2);
  if (args.length > 0) {
    console.error(`usage: npm run build (no arguments; got ${args.join(' ')})`);
    process.exit(2);
  }
  const t0 = Date.now();
  buildProduction().then(
    (r) =>
      console.error(`[build] ${path.relative(ROOT, r.outDir)}/ built in ${((Date.now() - t0) / 1000).toFixed(0)} s`),
    (err: unknown) => {
      console.error(`[build] ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    }
  );
}
