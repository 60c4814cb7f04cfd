/**
 * `npm run dev` (and `signflow dev`): starts the whole local stack (see stack.ts), prints where everything is and how
 * to start a demo contract, and runs until Ctrl-C, then stops everything cleanly.
 */
import path from 'node:path';
import { DEMO_STAFF } from '../db/seed';
import { createLogger } from '../logging/logger';
import { DEV_API_CREDENTIALS, loadConfig } from '../temporal.config';
import { installRuntime } from '../worker/runtime';
import { startDevStack, type DevStackOptions, type DevStackSummary } from './stack';

export function banner(s: DevStackSummary): string {
  // Relative to the current folder when below it (the usual `data/…`), else absolute.
  const rel = (p: string): string => {
    if (!path.isAbsolute(p)) return p;
    const r = path.relative(process.cwd(), p);
    return r === '' || r.startsWith('..') ? p : r;
  };
  const seed = s.database.seed;
  const contractIds = seed?.contractIds ?? [];
  const demo = contractIds[0];
  // The first demo contract belongs to the first demo contact (db/seed.ts).
  const demoContact = seed?.contactIds[0];
  const tokens = DEV_API_CREDENTIALS.tokens;
  const apiOrigin = s.api?.url.replace(/\/api\/v1$/, '');
  const lines: Array<string | undefined> = [
    '',
    'signflow dev stack is running (Ctrl-C stops everything)',
    '',
    `  Temporal        ${s.temporal.address}  namespace ${s.temporal.namespace}${s.temporal.reused ? '  (already running, reused)' : ''}`,
    s.temporal.uiUrl ? `  Temporal UI     ${s.temporal.uiUrl}` : undefined,
    s.temporal.dbFile ? `  Temporal state  ${rel(s.temporal.dbFile)}` : undefined,
    `  CRM database    ${rel(s.database.url)}${s.database.seeded ? '  (migrated, demo data seeded)' : ''}`,
    s.mail.external
      ? `  SMTP server     ${s.mail.smtpUrl}  (SIGNFLOW_SMTP_URL; no dev inbox: mail goes to this server)`
      : `  SMTP inbox      ${s.mail.smtpUrl}  → ${rel(s.mail.dir ?? '')}/*.eml`,
    s.mail.inboxUrl ? `  Inbox page      ${s.mail.inboxUrl}` : undefined,
    s.webhooks
      ? `  Webhooks page   ${s.webhooks.pageUrl}  (endpoint "dev" ${s.webhooks.hookUrl} → ${rel(s.webhooks.file)})`
      : undefined,
    s.api ? `  HTTP API        ${s.api.url}  (OpenAPI: ${s.api.openApiUrl})` : undefined,
    s.worker.metricsUrl || s.api?.metricsUrl
      ? `  Metrics         ${[s.worker.metricsUrl && `worker ${s.worker.metricsUrl}`, s.api?.metricsUrl && `API ${s.api.metricsUrl}`].filter(Boolean).join('  ')}  (and /healthz, /readyz beside each)`
      : undefined,
    s.api
      ? `  API dev tokens  crm ${tokens.crm}  portal ${tokens.portal}  staff ${tokens.staff}  ops ${tokens.ops}`
      : undefined,
    apiOrigin && demoContact !== undefined
      ? `  Portal (dev)    ${apiOrigin}/portal/kontakte/${demoContact}/ausstehend  (pending signatures of contact ${demoContact})`
      : apiOrigin
        ? `  Portal (dev)    ${apiOrigin}/portal/dokumente/<documentId>`
        : undefined,
    seed
      ? `  Staff (demo)    ${DEMO_STAFF.firstName} ${DEMO_STAFF.lastName}, Kontakt ${seed.staffContactId}: the id for --staff / staffContactId`
      : undefined,
    `  Worker          task queue ${s.worker.taskQueue}; outbox poller workflow ${s.outbox.pollerWorkflowId}`,
  ];
  if (s.codec) {
    const keys = s.codec.keysFile ? ` (${rel(s.codec.keysFile)})` : ' (from SIGNFLOW_CODEC_KEYS)';
    lines.push(
      `  Encryption      payloads AES-256-GCM, key ${s.codec.keyId}${keys}`,
      `  Codec server    ${s.codec.endpoint}`,
      `  Codec login     ${s.codec.loginUrl}  token ${s.codec.token ?? '(one of SIGNFLOW_CODEC_SERVER_TOKENS)'}`,
      s.temporal.uiCodecEndpoint && s.codec.token
        ? '                  the Temporal UI decodes through it as it is: no login, no settings (dev only: its origin is trusted)'
        : s.temporal.uiCodecEndpoint
          ? '                  sign in there once, then follow docs/ops.md ("Pointing the Temporal UI at it") in the UI'
          : `                  the reused Temporal server's UI was not started by us: set its codec endpoint to ${s.codec.endpoint}`
    );
  } else {
    lines.push('  Encryption      off (SIGNFLOW_DEV_CODEC=off): payloads are stored in clear');
  }
  if (s.konnektor?.simulated) {
    lines.push(
      `  Konnektor sim   ${s.konnektor.sdsUrl}  (mutual TLS; eHBA ${s.konnektor.hbaIccsn ?? '?'})`,
      s.konnektor.adminUrl ? `  Konnektor admin ${s.konnektor.adminUrl}/admin/state` : undefined,
      s.konnektor.clientZipPath
        ? `  Client ZIP      ${rel(s.konnektor.clientZipPath)}  fingerprint ${s.konnektor.fingerprint ?? '?'}`
        : undefined
    );
  } else if (s.konnektor) {
    lines.push(`  Konnektor       ${s.konnektor.sdsUrl}  (from SIGNFLOW_KONNEKTOR_*)`);
  } else {
    lines.push(
      '  Konnektor       off: no QES countersignature (SIGNFLOW_DEV_KONNEKTOR=off, SIGNFLOW_QES_ENABLED unset)'
    );
  }
  lines.push(`  CLI settings    ${rel(s.envFile)}`, '');

  if (demo !== undefined) {
    const envFile = rel(s.envFile);
    lines.push(
      `Try it with a demo contract (Honorarverträge ready to send: ${contractIds.join(', ')}), in another shell here:`,
      `  set -a; . ${envFile}; set +a    # once per shell: the CLI then uses this stack (Temporal, database, codec key, Konnektor)`,
      `  npx signflow start ${demo}`
    );
    if (s.api) {
      lines.push(
        '  # or over the API, as the CRM would:',
        `  curl -X POST -H 'Authorization: Bearer ${tokens.crm}' ${s.api.url}/contracts/${demo}/signature-request`
      );
    }
    lines.push(
      `Then open the invitation ${s.mail.inboxUrl ? `in the inbox (${s.mail.inboxUrl})` : 'in the mailbox of the demo contact'} and follow its link to sign` +
        (demoContact !== undefined ? `, or: npx signflow sign ${demo} --contact ${demoContact}` : '.')
    );
    if (s.konnektor) {
      lines.push(
        "The contract is then in Durchführung and waits for the practice's QES countersignature (WaitingReason",
        'comfort-signature) until the comfort signature (Komfortsignatur) of the eHBA is active:',
        `  npx signflow konnektor activate${s.konnektor.simulated ? '    # the simulated PIN entry at the card terminal succeeds' : ''}`
      );
    }
    if (seed) {
      lines.push(
        `Or confirm it as the seeded staff member instead of the contact: npx signflow confirm ${demo} --staff ${seed.staffContactId}`
      );
    }
    lines.push(
      `  npx signflow status ${demo}`,
      `Watch the workflow honorarvertrag-${demo} in the Temporal UI${s.temporal.uiUrl ? ` (${s.temporal.uiUrl})` : ''}.`,
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
      console.log(
        `\n[dev] ${signal}: stopping (API, worker, inbox, database, Temporal, codec server, Konnektor simulator)… Ctrl-C again forces.`
      );
      stopRequested();
    } else if (now - firstSignalAt > 1_000) {
      // Run through the tsx CLI (not `npm run dev`, which is one process: `node --import tsx`), one key press arrives
      // twice, the terminal's and tsx's relay: only a later one forces the exit. The 'exit' hook of the Temporal child
      // still kills the server.
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
  // Before any connection: the SDK's own worker metrics for the worker's /metrics, its log lines as JSON.
  const config = loadConfig({}, process.env);
  const sdkMetricsUrl = installRuntime(config, createLogger({ service: 'worker', level: 'warn' }));
  runDevStack({ sdkMetricsUrl }).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`[dev] failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    }
  );
}
