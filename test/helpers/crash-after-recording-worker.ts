/**
 * A signflow worker process that dies (SIGKILL) right after a recording step committed, before its workflow task can
 * complete: the one fault a real worker cannot be made to have at that moment on purpose. Everything else is the real
 * worker (real activities, database, Temporal server). Config overrides come as JSON in `SIGNFLOW_CRASH_TEST_CONFIG`.
 * Prints `polling` once it polls and `recorded <activity> local=<bool>` just before it kills itself. The steps after
 * which it dies: `SIGNFLOW_CRASH_AFTER` (comma-separated activity types; default the two recording steps), e.g.
 * `loadAndPrepareSignatureRequest` for the local preparation of generation 5.
 */
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, Next } from '@temporalio/worker';
import { loadConfig } from '../../temporal.config';
import { createWorker } from '../../worker/run-worker';

const CRASH_AFTER = new Set(
  (process.env.SIGNFLOW_CRASH_AFTER ?? 'recordSignature,recordManualConfirmation').split(',').filter(Boolean)
);

async function main(): Promise<void> {
  const config = loadConfig(JSON.parse(process.env.SIGNFLOW_CRASH_TEST_CONFIG ?? '{}') as unknown, {});
  const running = await createWorker(config, {
    workerOptions: {
      interceptors: {
        activity: [
          (ctx) => ({
            inbound: {
              async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>) {
                const result = await next(input);
                if (CRASH_AFTER.has(ctx.info.activityType)) {
                  process.stdout.write(`recorded ${ctx.info.activityType} local=${String(ctx.info.isLocal)}\n`);
                  process.kill(process.pid, 'SIGKILL');
                }
                return result;
              },
            },
          }),
        ],
      },
    },
  });
  process.stdout.write('polling\n');
  await running.done;
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
