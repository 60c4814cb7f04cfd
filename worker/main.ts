/**
 * A worker process configured from the environment: `npx tsx worker/main.ts` from the sources (chaos runs use it), or
 * `node dist/worker/main.js` from the build. Production runs `node dist/cli/main.js worker` (docs/ops.md), the same
 * worker with the CLI's signal handling and drain.
 */
import { createLogger } from '../logging/logger';
import { loadConfig } from '../temporal.config';
import { createWorker } from './run-worker';
import { mallocSettingsWarning } from './malloc-settings';
import { installRuntime } from './runtime';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ service: 'worker', level: config.observability.logLevel });
  // Before the first connection: JSON logs and the SDK's own metrics.
  const sdkMetricsUrl = installRuntime(config, logger);
  // glibc reads its allocator settings at process start: only the environment that starts this process can set them.
  const mallocWarning = mallocSettingsWarning();
  if (mallocWarning) logger.warn(mallocWarning);
  const running = await createWorker(config, { ops: { sdkMetricsUrl } });
  logger.info(
    { taskQueue: config.temporal.taskQueue, namespace: config.temporal.namespace, ops: running.opsUrl },
    `signflow worker polling; metrics ${running.opsUrl}/metrics, health ${running.opsUrl}/healthz and /readyz`
  );
  await running.done;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
