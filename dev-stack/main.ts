/**
 * `npm run dev` (and `signflow dev`): starts the whole local stack (see stack.ts), prints where everything is and how
 * to start a demo contract, and runs until Ctrl-C, then stops everything cleanly.
 */
import path from 'node:path';
import { DEV_API_CREDENTIALS } from '../temporal.config';
import { startDevStack, type DevStackOptions, type DevStackSummary } from './stack';

export function banner(s: DevStackSummary): string {
  const rel = (p: string): string => (path.isAbsolute(p) ? path.relative(process.cwd(), p) || p : p);
  const contractIds = s.database.seed?.contractIds ?? [];
  const demo = contractIds[0];
  const addressPrefix = s.temporal.address.endsWith(':7233') ? '' : `TEMPORAL_ADDRESS=${s.temporal.address} `;
  const lines = [
    '',
    'signflow dev stack is running (Ctrl-C stops everything)',
    '',
    `  Temporal        ${s.temporal.address}  namespace ${s.temporal.namespace}${s.temporal.reused ? '  (already running, reused)' : ''}`,
    s.temporal.uiUrl ? `  Temporal UI     ${s.temporal.uiUrl}` : undefined,
    s.temporal.dbFile ? `  Temporal state  ${rel(s.temporal.dbFile)}` : undefined,
    `  CRM database    ${rel(s.database.url)}${s.database.seeded ? '  (migrated, demo data seeded)' : ''}`,
    `  SMTP inbox      ${s.mail.smtpUrl}  → ${rel(s.mail.dir)}/*.eml`,
    `  Inbox page      ${s.mail.inboxUrl}`,
    s.api ? `  HTTP API        ${s.api.url}  (OpenAPI: ${s.api.openApiUrl})` : undefined,
    s.api ? `  Portal (dev)    ${s.api.portalUrl}/dokumente/<documentId>` : undefined,
    `  Worker          task queue ${s.worker.taskQueue}`,
    '',
  ];
  if (demo !== undefined) {
    lines.push(
      `Demo contracts (Honorarverträge, ready to send): ${contractIds.join(', ')}`,
      'Start a signature request for one of them:',
      `  ${addressPrefix}npm run signflow -- start ${demo}`
    );
    if (s.api) {
      lines.push(
        '  or over the API:',
        `  curl -X POST -H 'Authorization: Bearer ${DEV_API_CREDENTIALS.tokens.crm}' ${s.api.url}/contracts/${demo}/signature-request`
      );
    }
    lines.push(
      `Then open the invitation in the inbox (${s.mail.inboxUrl}), follow its link to sign, and watch the workflow`,
      `honorarvertrag-${demo} in the Temporal UI${s.temporal.uiUrl ? ` (${s.temporal.uiUrl})` : ''}.`,
      ''
    );
  }
  return lines.filter((l): l is string => l !== undefined).join('\n');
}

/**
 * Starts the stack, prints the banner, and resolves with the summary after Ctrl-C (SIGINT) or SIGTERM has stopped
 * everything. `signflow dev` calls this.
 */
export async function runDevStack(options: DevStackOptions = {}): Promise<DevStackSummary> {
  let stopRequested: () => void = () => undefined;
  const requested = new Promise<void>((resolve) => (stopRequested = resolve));
  let firstSignalAt = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    const now = Date.now();
    if (firstSignalAt === 0) {
      firstSignalAt = now;
      console.log(`\n[dev] ${signal}: stopping (API, worker, inbox, database, Temporal)… Ctrl-C again forces.`);
      stopRequested();
    } else if (now - firstSignalAt > 1_000) {
      // tsx relays the terminal's Ctrl-C, so one key press arrives twice: only a later one forces the exit. The
      // 'exit' hook of the Temporal child still kills the server.
      console.log('[dev] forced exit');
      process.exit(130);
    }
  };
  // Installed before the start (a Ctrl-C while starting must still stop what has started) and kept while stopping:
  // a signal without a listener would kill the process mid-shutdown and orphan the Temporal server.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const stack = await startDevStack(options);
    if (firstSignalAt === 0) console.log(banner(stack.summary));
    await requested;
    await stack.stop();
    console.log('[dev] stopped');
    return stack.summary;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

if (require.main === module) {
  runDevStack().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`[dev] failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    }
  );
}
