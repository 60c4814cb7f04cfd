/**
 * jest globalSetup: bundles the workflow code ONCE per jest run (webpack takes seconds; once per test file would add
 * minutes) and hands the file to the test workers through SIGNFLOW_WORKFLOW_BUNDLE (workers inherit this process's
 * environment). A bundle that fails is reported here and left unset, so only the suites that need it fail, each with
 * the bundler's error, instead of the whole run.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowsToFile, WORKFLOW_BUNDLE_ENV } from '../../harness/temporal';

export const BUNDLE_DIR_ENV = 'SIGNFLOW_TEST_BUNDLE_DIR';

export default async function globalSetup(): Promise<void> {
  const workflowsIndex = path.resolve(__dirname, '../../workflows/index.ts');
  if (!fs.existsSync(workflowsIndex)) {
    console.warn(`\n[global-setup] ${path.relative(process.cwd(), workflowsIndex)} does not exist yet: no bundle`);
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-jest-'));
  process.env[BUNDLE_DIR_ENV] = dir;
  const t0 = Date.now();
  try {
    const { codePath } = await bundleWorkflowsToFile(workflowsIndex, dir);
    process.env[WORKFLOW_BUNDLE_ENV] = codePath;
    console.log(`\n[global-setup] workflows bundled in ${Date.now() - t0} ms`);
  } catch (err) {
    console.warn(`\n[global-setup] bundling workflows failed; suites that need them will fail:\n${String(err)}`);
  }
}
