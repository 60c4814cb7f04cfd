/**
 * Prepares a Temporal namespace of a real (self-hosted) cluster for signflow: registers the four search attributes
 * and starts the outbox poller (one long-running workflow; a poller with other settings is replaced, the schedule of
 * earlier versions removed). The dev stack does both itself at start; a production install runs this once per
 * namespace, and again after changing `SIGNFLOW_OUTBOX_*`. Idempotent.
 *
 *   npx tsx scripts/prepare-cluster.ts [--no-search-attributes] [--no-outbox-poller]
 *
 * Reads the same environment as the worker (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, TLS or API key variables,
 * `SIGNFLOW_CODEC_KEYS` so that the poller's input is encrypted like everything else). Registering search
 * attributes needs an operator's rights; on Temporal Cloud add them in the Cloud UI or with `tcld` and pass
 * `--no-search-attributes`.
 */
import { Client, Connection } from '@temporalio/client';
import { connectionOptions } from '../client/connect';
import { createDataConverter } from '../codec/data-converter';
import { registerSearchAttributes } from '../dev-stack/search-attributes';
import { ensureOutboxPoller } from '../outbox/poller';
import { ensureStaffDigestSchedule } from '../staff/digest-schedule';
import { loadConfig, type SignflowConfig } from '../temporal.config';
import { SEARCH_ATTRIBUTES } from '../workflows/definitions';

export interface PrepareClusterOptions {
  /** @default true */
  searchAttributes?: boolean;
  /** Start (or keep) the outbox poller workflow. @default true */
  outboxPoller?: boolean;
}

export interface PrepareClusterResult {
  namespace: string;
  /** Names registered (or found registered already); empty when skipped. */
  searchAttributes: string[];
  /** The poller's workflow id, when started or kept. */
  outboxPollerWorkflowId?: string;
  /** The staff digest's schedule id; undefined when the digest is off (then any old schedule was removed). */
  staffDigestScheduleId?: string;
}

export async function prepareCluster(
  config: SignflowConfig,
  options: PrepareClusterOptions = {}
): Promise<PrepareClusterResult> {
  const namespace = config.temporal.namespace;
  const connection = await Connection.connect(connectionOptions(config));
  const client = new Client({ connection, namespace, dataConverter: createDataConverter(config) });
  try {
    const result: PrepareClusterResult = { namespace, searchAttributes: [] };
    if (options.searchAttributes !== false) {
      await registerSearchAttributes(connection, namespace);
      result.searchAttributes = Object.keys(SEARCH_ATTRIBUTES);
    }
    if (options.outboxPoller !== false) result.outboxPollerWorkflowId = await ensureOutboxPoller(client, config);
    result.staffDigestScheduleId = await ensureStaffDigestSchedule(client, config);
    return result;
  } finally {
    await connection.close();
  }
}

async function main(argv: string[]): Promise<void> {
  // --no-outbox-schedule: the flag's name before the poller became one workflow.
  const known = ['--no-search-attributes', '--no-outbox-poller', '--no-outbox-schedule'];
  const unknown = argv.filter((a) => !known.includes(a));
  if (unknown.length > 0) {
    throw new Error(
      `unknown argument(s): ${unknown.join(' ')}\nusage: npx tsx scripts/prepare-cluster.ts [${known.join('] [')}]`
    );
  }
  const config = loadConfig();
  const r = await prepareCluster(config, {
    searchAttributes: !argv.includes('--no-search-attributes'),
    outboxPoller: !argv.includes('--no-outbox-poller') && !argv.includes('--no-outbox-schedule'),
  });
  console.log(`namespace ${r.namespace} at ${config.temporal.address}`);
  console.log(`  search attributes: ${r.searchAttributes.length ? r.searchAttributes.join(', ') : 'skipped'}`);
  console.log(
    `  outbox poller:     ${r.outboxPollerWorkflowId ? `workflow ${r.outboxPollerWorkflowId}, polling every ${config.outbox.pollInterval / 1000} s` : 'skipped'}`
  );
  console.log(
    `  staff digest:      ${r.staffDigestScheduleId ? `${r.staffDigestScheduleId}, cron "${config.staff.digestCron}" (${config.staff.digestTimeZone})` : 'off (SIGNFLOW_STAFF_MAIL unset or SIGNFLOW_STAFF_DIGEST_ENABLED=false)'}`
  );
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
