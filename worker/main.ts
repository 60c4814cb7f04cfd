/** `npx tsx worker/main.ts`: the production worker process, configured from the environment. */
import { loadConfig } from '../temporal.config';
import { runWorker } from './run-worker';

runWorker(loadConfig()).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
