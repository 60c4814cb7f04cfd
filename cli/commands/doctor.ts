/**
 * `signflow doctor`: what an administrator runs before going live and after every change (the `flutter doctor` /
 * `brew doctor` convention). Each check prints OK or what to do; the exit code is 1 when any check failed (5 when the
 * configuration itself is invalid); `--json` gives `{ ok, checks: [{ name, ok, message, fix? }] }` for scripts.
 *
 * Checked: configuration; database reachable; every mapped table and column present with suitable types (db/
 * mapping-check.ts); signflow's tables migrated; Temporal reachable, namespace present, search attributes registered,
 * outbox poller running; where the Konnektor activities run (the on-site task queue and whether a worker polls it;
 * doctor-konnektor-queue.ts); codec keys loadable; SMTP reachable (EHLO, no mail sent); with QES on, the Konnektor
 * (host, mutual TLS with the client certificate, connector.sds, SignatureService version, eHBA; doctor-konnektor.ts).
 */
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { ExitCode } from '../exit-codes';
import { SIGNFLOW_MIGRATIONS_TABLE } from '../../db/migrate';
import type { Runner } from '../runner';
import { konnektorChecks, type DoctorCheck } from './doctor-konnektor';

export type { DoctorCheck };

type Check = () => Promise<Omit<DoctorCheck, 'name'>>;

/**
 * Privileges the user lacks, per table, from information_schema (MariaDB and MySQL list the current user's own global,
 * database and table privileges there): SELECT everywhere, INSERT where signflow adds rows (documents, signatures),
 * UPDATE where it changes them (contracts, signatures); all four on its own signflow_* tables.
 */
async function missingGrants(ctx: CliContext, crm: import('../../db/crm-mapping').CrmMapping): Promise<string[]> {
  const db = ctx.db;
  const rows = async (table: string, extra: string) =>
    (await db.raw(`SELECT PRIVILEGE_TYPE AS p${extra} FROM information_schema.${table}`)) as unknown as [
      { p: string; s?: string; t?: string }[],
    ];
  const [[global], [schema], [tables], [[current]]] = await Promise.all([
    rows('USER_PRIVILEGES', ''),
    rows('SCHEMA_PRIVILEGES', ', TABLE_SCHEMA AS s'),
    rows('TABLE_PRIVILEGES', ', TABLE_SCHEMA AS s, TABLE_NAME AS t'),
    db.raw('SELECT DATABASE() AS d') as unknown as Promise<[{ d: string }[]]>,
  ]);
  const dbName = current?.d ?? '';
  // Schema privileges may be granted on a pattern (`crm\_%`); compare with LIKE's rules.
  const likes = (pattern: string, value: string) =>
    new RegExp(
      `^${pattern
        .replace(/\\_/g, '_')
        .replace(/[.*+?^${}()|[\]]/g, '\\$&')
        .replace(/%/g, '.*')}$`
    ).test(value);
  const has = (table: string, privilege: string) =>
    global.some((r) => r.p === privilege || r.p === 'ALL PRIVILEGES') ||
    schema.some((r) => likes(r.s ?? '', dbName) && (r.p === privilege || r.p === 'ALL PRIVILEGES')) ||
    tables.some((r) => r.s === dbName && r.t === table && (r.p === privilege || r.p === 'ALL PRIVILEGES'));
  const needs: Array<[string, string[]]> = [
    [crm.contacts.table, ['SELECT']],
    [crm.contracts.table, ['SELECT', 'UPDATE']],
    [crm.documents.table, ['SELECT', 'INSERT', 'UPDATE']],
    [crm.signatures.table, ['SELECT', 'INSERT', 'UPDATE']],
  ];
  const own = (await db('information_schema.TABLES')
    .where('TABLE_SCHEMA', dbName)
    .andWhere('TABLE_NAME', 'like', 'signflow\\_%')
    .select({ t: 'TABLE_NAME' })) as { t: string }[];
  // The migration bookkeeping is written by the administrator's migration run; the processes only read it.
  const readOnly = new Set([SIGNFLOW_MIGRATIONS_TABLE, `${SIGNFLOW_MIGRATIONS_TABLE}_lock`]);
  for (const { t } of own) needs.push([t, readOnly.has(t) ? ['SELECT'] : ['SELECT', 'INSERT', 'UPDATE', 'DELETE']]);
  const missing: string[] = [];
  for (const [table, privileges] of needs) {
    const lacking = privileges.filter((p) => !has(table, p));
    if (lacking.length > 0) missing.push(`${lacking.join(', ')} on ${table}`);
  }
  return missing;
}

async function runChecks(ctx: CliContext): Promise<DoctorCheck[]> {
  const results: DoctorCheck[] = [];
  const check = async (name: string, fn: Check) => {
    try {
      results.push({ name, ...(await fn()) });
    } catch (err) {
      results.push({ name, ok: false, message: (err as Error).message });
    }
  };
  const config = ctx.config;

  let dbOk = false;
  await check('database reachable', async () => {
    await ctx.db.raw('select 1');
    dbOk = true;
    return { ok: true, message: 'the database answers' };
  });
  if (dbOk) {
    const { checkMappingAgainstDatabase } = await import('../../db/mapping-check');
    const problems = await checkMappingAgainstDatabase(ctx.db, config.crm);
    if (problems.length === 0) {
      results.push({
        name: 'CRM mapping',
        ok: true,
        message: 'every mapped table and column exists with a usable type',
      });
    }
    for (const p of problems) results.push({ name: `CRM mapping ${p.key}`, ok: false, message: p.message });

    if ((await import('../../db/connection')).dialectOfDb(ctx.db) === 'mysql') {
      await check('database grants', async () => {
        const missing = await missingGrants(ctx, config.crm);
        return missing.length === 0
          ? { ok: true, message: 'the database user may read and write every table signflow uses' }
          : {
              ok: false,
              message: `the database user lacks ${missing.join('; ')}; GRANT them (docs/install.md lists the grants)`,
            };
      });
    }

    await check('signflow tables migrated', async () => {
      const { SIGNFLOW_MIGRATIONS_TABLE } = await import('../../db/migrate');
      const has = await ctx.db.schema.hasTable(SIGNFLOW_MIGRATIONS_TABLE);
      if (!has) {
        return { ok: false, message: 'signflow_* tables are missing: run `npx tsx db/migrate.ts` (creates only them)' };
      }
      return { ok: true, message: 'signflow_* tables present' };
    });
  }

  let temporalOk = false;
  await check('Temporal reachable', async () => {
    const client = await ctx.temporal();
    await client.workflowService.describeNamespace({ namespace: config.temporal.namespace });
    temporalOk = true;
    return { ok: true, message: `${config.temporal.address}, namespace ${config.temporal.namespace}` };
  });
  if (temporalOk) {
    await check('search attributes registered', async () => {
      const { SEARCH_ATTRIBUTES } = await import('../../workflows/definitions');
      const client = await ctx.temporal();
      const res = await client.connection.operatorService.listSearchAttributes({
        namespace: config.temporal.namespace,
      });
      const known = new Set(Object.keys(res.customAttributes ?? {}));
      const missing = Object.keys(SEARCH_ATTRIBUTES).filter((n) => !known.has(n));
      return missing.length === 0
        ? { ok: true, message: Object.keys(SEARCH_ATTRIBUTES).join(', ') }
        : {
            ok: false,
            message: `not registered in namespace ${config.temporal.namespace}: ${missing.join(', ')}; run \`npx tsx scripts/prepare-cluster.ts\` (docs/ops.md)`,
          };
    });
    await check('outbox poller', async () => {
      const { OUTBOX_POLLER_WORKFLOW_ID } = await import('../../outbox/poller');
      const client = await ctx.temporal();
      const running = await client.workflow
        .getHandle(OUTBOX_POLLER_WORKFLOW_ID)
        .describe()
        .then((d) => d.status.name === 'RUNNING')
        .catch(() => false);
      return running
        ? { ok: true, message: `workflow ${OUTBOX_POLLER_WORKFLOW_ID} running` }
        : {
            ok: false,
            message: `workflow ${OUTBOX_POLLER_WORKFLOW_ID} is not running: run \`npx tsx scripts/prepare-cluster.ts\``,
          };
    });
  }

  const { konnektorQueueChecks } = await import('./doctor-konnektor-queue');
  results.push(...(await konnektorQueueChecks(config, temporalOk ? await ctx.temporal() : undefined)));

  await check('codec keys', async () => {
    const { codecFromConfig } = await import('../../codec/aes-gcm-codec');
    const codec = codecFromConfig(config.codec);
    return codec
      ? { ok: true, message: `keys ${config.codec.keys.map((k) => k.id).join(', ')} loaded` }
      : { ok: true, message: 'no SIGNFLOW_CODEC_KEYS: payloads are not encrypted' };
  });

  await check('SMTP reachable', async () => {
    const nodemailer = await import('nodemailer');
    const transport = nodemailer.createTransport(config.mail.smtpUrl);
    try {
      // EHLO (and login when the URL has credentials); no mail is sent.
      await transport.verify();
      return { ok: true, message: 'the SMTP server answers EHLO' };
    } catch (err) {
      return {
        ok: false,
        message: `SMTP server refused or unreachable: ${(err as Error).message}; check SIGNFLOW_SMTP_URL`,
      };
    } finally {
      transport.close();
    }
  });

  // The hosted side of an on-site Konnektor has no Konnektor settings: the on-site machine's doctor checks it.
  const { konnektorRunsOnSite } = await import('../../routing/konnektor-routing-config');
  if (config.konnektor.enabled && (config.konnektor.sdsUrl || !konnektorRunsOnSite(config.konnektor))) {
    try {
      results.push(...(await konnektorChecks(config)));
    } catch (err) {
      results.push({ name: 'Konnektor', ok: false, message: (err as Error).message });
    }
  }
  return results;
}

async function doctor(ctx: CliContext): Promise<ExitCode> {
  // An invalid configuration throws here: exit 5 with the variable named, through the runner.
  void ctx.config;
  const checks = await runChecks(ctx);
  const ok = checks.every((c) => c.ok);
  ctx.out.result({ ok, checks }, () =>
    [
      ...checks.map((c) => `${c.ok ? 'OK  ' : 'FAIL'}  ${c.name}: ${c.message}`),
      '',
      ok ? 'all checks passed' : 'some checks failed',
    ].join('\n')
  );
  return ok ? ExitCode.OK : ExitCode.REJECTED;
}

export function registerDoctor(program: Command, run: Runner): void {
  program
    .command('doctor')
    .description('check the installation: configuration, database and mapping, Temporal, codec keys, SMTP, Konnektor')
    .option('--json', 'print one JSON document (for scripts)')
    .action((opts: { json?: boolean }) => run(opts, (ctx) => doctor(ctx)));
}
