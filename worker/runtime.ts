/**
 * The Temporal SDK's process-wide Runtime for signflow processes: its log lines (worker, workflows' `wf.log`,
 * activities' `log`, and Core's own, forwarded) go to the pino logger as JSON, and Core exports its worker metrics
 * (task slots, poll latencies, schedule-to-start, sticky cache…) with Prometheus on a loopback port, which the
 * worker's `/metrics` includes. Must run before the first connection is made; only the first call in a process wins.
 */
import { Runtime } from '@temporalio/worker';
import { temporalLoggerFor, type Logger } from '../logging/logger';
import type { SignflowConfig } from '../temporal.config';

/** `http://127.0.0.1:<port>/metrics` of Core's exporter, or undefined when it is off or the Runtime existed already. */
export function installRuntime(config: SignflowConfig, logger: Logger): string | undefined {
  const port = config.observability.sdkMetricsPort;
  const coreLevel =
    config.observability.logLevel === 'debug' || config.observability.logLevel === 'trace' ? 'DEBUG' : 'WARN';
  try {
    Runtime.install({
      logger: temporalLoggerFor(logger),
      telemetryOptions: {
        logging: { forward: {}, filter: { core: coreLevel, other: 'WARN' } },
        metrics: port ? { prometheus: { bindAddress: `127.0.0.1:${port}` } } : undefined,
      },
    });
  } catch (err) {
    // Already installed (a test harness, or a second worker in the dev stack's process): keep that one.
    logger.warn({ err }, 'Temporal Runtime already installed; its logging and metrics settings stay');
    return undefined;
  }
  return port ? `http://127.0.0.1:${port}/metrics` : undefined;
}
