/**
 * The bad-input catalogue (issue 11): one table of bad inputs and refused commands, each row naming its door (the HTTP
 * API, the `signflow` CLI as a subprocess, an outbox row taken by the poller, bad data in the CRM, a bad
 * configuration), the input and the expected code, against the same real stack: Temporal dev server, a worker with
 * the real activities, a SQLite CRM database and an SMTP inbox. Every row also checks that nothing changed: a full
 * dump of the database (every table, every row) is the same before and after (the outbox door's own row aside), no
 * mail arrived, and no workflow was started or moved (status and history length of every contract's workflow).
 * The same case through several doors must answer the same code, because every door goes through commands/.
 */
import { createHash } from 'node:crypto';
import { randomUUID } from 'node:crypto';
import { contractStatus } from '../../client/contract-client';
import { signContract, startContract, withdrawContract, type CommandDeps } from '../../commands/contract-commands';
import { describeContract } from '../../commands/temporal-answers';
import { readOutboxRows } from '../../outbox/outbox-repository';
import { pollOutboxOnce } from '../../outbox/outbox.activities';
import { OUTBOX_TABLE } from '../../outbox/types';
import type { ContractPhase } from '../../workflows/definitions';
import { startApiStack, type ApiStack, type TestRole } from '../api/api-stack';
import { runCli } from '../cli/run-cli';
import { addSendableContract } from '../helpers/contract-stack';
import { startDevServer, type DevServerHandle } from '../../harness/temporal';

jest.setTimeout(120_000);

let server: DevServerHandle;
let api: ApiStack;
let deps: CommandDeps;
let cliEnv: Record<string, string>;

/** The contracts and contacts the cases refer to, made once in beforeAll. */
const ids = {
  sendable: 0,
  draft: 0,
  badEmail: 0,
  nullEmail: 0,
  emptyEmail: 0,
  noContact: 0,
  awaiting: 0,
  signed: 0,
  withdrawn: 0,
  expired: 0,
  freelancerOfAwaiting: 0,
  staff: 0,
};

async function waitForPhase(contractId: number, phase: ContractPhase): Promise<void> {
  const deadline = Date.now() + 60_000;
  let last = '';
  while (Date.now() < deadline) {
    last = await contractStatus(deps.client, contractId).then(
      (s) => s.phase,
      (err: Error) => err.message
    );
    if (last === phase) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`contract ${contractId} did not reach ${phase} (last: ${last})`);
}

async function contractWith(fields: Record<string, unknown>): Promise<number> {
  const t = api.stack.t;
  const id = await addSendableContract(t);
  await t.db(t.config.crm.contracts.table).where(t.config.crm.contracts.id, id).update(fields);
  return id;
}

async function contactWithEmail(email: string | null): Promise<number> {
  const c = api.stack.t.config.crm.contacts;
  const [id] = await api.stack.t.db(c.table).insert({
    [c.firstName]: 'Test',
    [c.lastName]: `Kontakt ${randomUUID().slice(0, 8)}`,
    [c.email]: email,
  });
  return Number(id);
}

beforeAll(async () => {
  server = await startDevServer();
  api = await startApiStack(server);
  deps = { config: api.stack.config, db: api.stack.t.db, client: api.stack.client };
  const crm = api.stack.config.crm;
  const k = crm.contracts;
  cliEnv = {
    TEMPORAL_ADDRESS: server.address,
    TEMPORAL_NAMESPACE: server.namespace,
    SIGNFLOW_TASK_QUEUE: api.stack.config.temporal.taskQueue,
    SIGNFLOW_DATABASE_URL: api.stack.t.url,
  };
  const seed = api.stack.t.seed;
  ids.staff = seed.staffContactId;
  ids.sendable = await addSendableContract(api.stack.t);
  ids.draft = await contractWith({ [k.status]: 'entwurf' });
  ids.badEmail = seed.invalidEmailContractId;
  ids.nullEmail = await contractWith({ [k.contactId]: await contactWithEmail(null) });
  ids.emptyEmail = await contractWith({ [k.contactId]: await contactWithEmail('') });
  ids.noContact = await contractWith({ [k.contactId]: 987_654 });

  ids.awaiting = await addSendableContract(api.stack.t);
  ids.freelancerOfAwaiting = seed.contactIds[0] as number;
  ids.signed = await addSendableContract(api.stack.t);
  ids.withdrawn = await addSendableContract(api.stack.t);
  ids.expired = await addSendableContract(api.stack.t);
  for (const id of [ids.awaiting, ids.signed, ids.withdrawn]) await startContract(deps, id);
  // Expires a moment after the invitation: started with its own timing, the other contracts keep the default.
  const quick = { ...deps.config, signature: { ...deps.config.signature, expiry: 1_000, remindersEnabled: false } };
  await startContract({ ...deps, config: quick }, ids.expired);
  for (const id of [ids.awaiting, ids.signed, ids.withdrawn]) await waitForPhase(id, 'awaiting-signature');
  await signContract(deps, ids.signed, { contactId: ids.freelancerOfAwaiting, method: 'click' });
  await withdrawContract(deps, ids.withdrawn, { staffContactId: ids.staff, reason: 'cross-door test' });
  await waitForPhase(ids.withdrawn, 'withdrawn');
  await waitForPhase(ids.signed, 'completed');
  await waitForPhase(ids.expired, 'expired');
}, 240_000);

afterAll(async () => {
  await api?.stop();
  await server?.stop();
}, 60_000);

interface DoorCase {
  name: string;
  code: string;
  /** method, path, body, role */
  api: () => [string, string, unknown, TestRole];
  /** CLI arguments (without --json); null where the CLI has no way to express the input. */
  cli: (() => string[]) | null;
  /** An outbox row as the CRM writes it; null where the outbox has no such command (signing). */
  outbox: (() => { command: string; contract_id: unknown; staff_contact_id?: unknown }) | null;
  /** For refused starts: the contract that must not have a workflow afterwards. */
  startsNothing?: () => number;
  /** The bad input is the CRM's own data (the door only carries the command): the row's door is `CRM data`. */
  crmData?: boolean;
}

/**
 * A refused start. `outbox: false` for texts the database itself turns into a number on insert (SQLite's integer
 * affinity stores ' 1', '+1', '01', '1.0' and '1e0' as 1): the outbox never sees them as text.
 */
const startCase = (
  name: string,
  code: string,
  id: () => number | string,
  opts: { nothing?: boolean; outbox?: boolean; crmData?: boolean } = {}
): DoorCase => ({
  name,
  code,
  crmData: opts.crmData,
  api: () => ['POST', `/api/v1/contracts/${encodeURIComponent(String(id()))}/signature-request`, undefined, 'crm'],
  // `--` so that '-1' is an argument, not an option.
  cli: () => ['start', '--', String(id())],
  outbox: opts.outbox === false ? null : () => ({ command: 'send', contract_id: id() }),
  startsNothing: opts.nothing !== false && typeof id() === 'number' ? () => id() as number : undefined,
});

const CASES: DoorCase[] = [
  startCase('start of a contract that does not exist', 'CONTRACT_NOT_FOUND', () => 1_999_999),
  startCase('start of a contract in status entwurf', 'CONTRACT_NOT_SENDABLE', () => ids.draft, { crmData: true }),
  startCase('start for a contact with an invalid e-mail address', 'CONTACT_EMAIL_INVALID', () => ids.badEmail, {
    crmData: true,
  }),
  startCase('start for a contact with a NULL e-mail address', 'CONTACT_EMAIL_INVALID', () => ids.nullEmail, {
    crmData: true,
  }),
  startCase('start for a contact with an empty e-mail address', 'CONTACT_EMAIL_INVALID', () => ids.emptyEmail, {
    crmData: true,
  }),
  startCase('start for a contact that does not exist', 'CONTACT_NOT_FOUND', () => ids.noContact, { crmData: true }),
  startCase('start after the contract was signed', 'CONTRACT_WORKFLOW_CLOSED', () => ids.signed, { nothing: false }),
  startCase('start after expiry, status not sendable again', 'CONTRACT_NOT_SENDABLE', () => ids.expired, {
    nothing: false,
  }),
  ...['0x11', '0', '-1', 'abc', '99999999999'].map((bad) =>
    startCase(`start with the contract id ${JSON.stringify(bad)}`, 'VALIDATION_FAILED', () => bad)
  ),
  ...['1e0', ' 1', '+1', '01', '1.0', '1 '].map((bad) =>
    startCase(`start with the contract id ${JSON.stringify(bad)}`, 'VALIDATION_FAILED', () => bad, { outbox: false })
  ),
  {
    name: 'confirm by a staff contact that does not exist',
    code: 'CONTACT_NOT_FOUND',
    api: () => ['POST', `/api/v1/contracts/${ids.awaiting}/confirmation`, { staffContactId: 99_999 }, 'staff'],
    cli: () => ['confirm', String(ids.awaiting), '--staff', '99999'],
    outbox: () => ({ command: 'confirm', contract_id: ids.awaiting, staff_contact_id: 99_999 }),
  },
  {
    name: "confirm by the contract's own freelancer as staff",
    code: 'STAFF_NOT_ALLOWED',
    api: () => [
      'POST',
      `/api/v1/contracts/${ids.awaiting}/confirmation`,
      { staffContactId: ids.freelancerOfAwaiting },
      'staff',
    ],
    cli: () => ['confirm', String(ids.awaiting), '--staff', String(ids.freelancerOfAwaiting)],
    outbox: () => ({ command: 'confirm', contract_id: ids.awaiting, staff_contact_id: ids.freelancerOfAwaiting }),
  },
  {
    name: 'confirm with a malformed staff id',
    code: 'VALIDATION_FAILED',
    api: () => ['POST', `/api/v1/contracts/${ids.awaiting}/confirmation`, { staffContactId: '1' }, 'staff'],
    cli: () => ['confirm', String(ids.awaiting), '--staff', '1e0'],
    outbox: () => ({ command: 'confirm', contract_id: ids.awaiting, staff_contact_id: 'abc' }),
  },
  {
    name: 'withdraw naming a staff contact that does not exist',
    code: 'CONTACT_NOT_FOUND',
    api: () => ['POST', `/api/v1/contracts/${ids.awaiting}/withdrawal`, { staffContactId: 99_999 }, 'staff'],
    cli: () => ['withdraw', String(ids.awaiting), '--staff', '99999'],
    outbox: () => ({ command: 'withdraw', contract_id: ids.awaiting, staff_contact_id: 99_999 }),
  },
  {
    name: 'confirm of a contract whose request was never started',
    code: 'SIGNATURE_REQUEST_NOT_FOUND',
    api: () => ['POST', `/api/v1/contracts/${ids.sendable}/confirmation`, { staffContactId: ids.staff }, 'staff'],
    cli: () => ['confirm', String(ids.sendable), '--staff', String(ids.staff)],
    outbox: () => ({ command: 'confirm', contract_id: ids.sendable, staff_contact_id: ids.staff }),
  },
  {
    name: 'resend on an already signed contract',
    code: 'SIGNATURE_ALREADY_CONFIRMED',
    api: () => ['POST', `/api/v1/contracts/${ids.signed}/reminder`, undefined, 'staff'],
    cli: () => ['resend', String(ids.signed)],
    outbox: () => ({ command: 'resend', contract_id: ids.signed }),
  },
  {
    name: 'withdraw of an already withdrawn contract',
    code: 'SIGNATURE_WITHDRAWN',
    api: () => ['POST', `/api/v1/contracts/${ids.withdrawn}/withdrawal`, {}, 'staff'],
    cli: () => ['withdraw', String(ids.withdrawn)],
    outbox: () => ({ command: 'withdraw', contract_id: ids.withdrawn }),
  },
  {
    name: 'sign (resend from the outbox) after expiry',
    code: 'SIGNATURE_EXPIRED',
    api: () => [
      'POST',
      `/api/v1/contracts/${ids.expired}/signature`,
      { contactId: ids.freelancerOfAwaiting, method: 'click' },
      'portal',
    ],
    cli: () => ['sign', String(ids.expired), '--contact', String(ids.freelancerOfAwaiting)],
    outbox: () => ({ command: 'resend', contract_id: ids.expired }),
  },
  // A JSON body is typed: `true`, "1" and [1] are not the contact 1 (the CLI's text 'true' is not an id either).
  ...[true, '1', [1], 1.5].map((contactId): DoorCase => ({
    name: `sign with contactId ${JSON.stringify(contactId)} (no coercion)`,
    code: 'VALIDATION_FAILED',
    api: () => ['POST', `/api/v1/contracts/${ids.awaiting}/signature`, { contactId, method: 'click' }, 'portal'],
    cli:
      typeof contactId === 'string' || Array.isArray(contactId)
        ? null
        : () => ['sign', String(ids.awaiting), '--contact', String(contactId)],
    outbox: null,
  })),
  {
    name: 'a hex contract id on a message route, an unknown outbox command',
    code: 'VALIDATION_FAILED',
    api: () => ['POST', `/api/v1/contracts/0x${ids.awaiting}/reminder`, undefined, 'staff'],
    cli: () => ['resend', `0x${ids.awaiting}`],
    outbox: () => ({ command: 'frobnicate', contract_id: ids.awaiting }),
  },
];

async function viaApi(c: DoorCase): Promise<string> {
  const [method, path, body, role] = c.api();
  const answer = await api.call(method, path, { as: role, body });
  expect(answer.status).toBeGreaterThanOrEqual(400);
  expect(answer.json).toEqual(expect.objectContaining({ code: expect.any(String), message: expect.any(String) }));
  return answer.json.code as string;
}

async function viaCli(args: string[], env: Record<string, string> = {}): Promise<string> {
  const [verb, ...rest] = args;
  const run = await runCli([verb as string, '--json', ...rest], { ...cliEnv, ...env });
  expect(run.code).not.toBe(0);
  return run.json<{ error: { code: string } }>().error.code;
}

async function viaOutbox(row: {
  command: string;
  contract_id: unknown;
  staff_contact_id?: unknown;
}): Promise<{ code: string; ownOutboxRow: number }> {
  const db = api.stack.t.db;
  const [id] = await db(OUTBOX_TABLE).insert({
    command: row.command,
    contract_id: row.contract_id,
    staff_contact_id: row.staff_contact_id ?? null,
  });
  const claimer = `cross-door-${randomUUID()}`;
  await pollOutboxOnce(deps, claimer, { batchSize: 10 });
  const [stored] = await readOutboxRows(db, [Number(id)]);
  expect(stored?.outcome).toBe('failed');
  return { code: String(stored?.error).split(':')[0] as string, ownOutboxRow: Number(id) };
}

/** Bad settings in the environment of the CLI (the same config loader the worker and the API use). */
const CONFIG_CASES: Array<{ input: string; env: Record<string, string>; code: string }> = [
  {
    input: 'SIGNFLOW_PORTAL_BASE_URL=not-a-url',
    env: { SIGNFLOW_PORTAL_BASE_URL: 'not-a-url' },
    code: 'CONFIG_INVALID',
  },
  { input: 'SIGNFLOW_CODEC_KEYS=garbage', env: { SIGNFLOW_CODEC_KEYS: 'garbage' }, code: 'CONFIG_INVALID' },
  { input: 'SIGNFLOW_WEBHOOKS=[{"url":1}]', env: { SIGNFLOW_WEBHOOKS: '[{"url":1}]' }, code: 'CONFIG_INVALID' },
  { input: 'SIGNFLOW_WEBHOOKS=not json', env: { SIGNFLOW_WEBHOOKS: 'not json' }, code: 'CONFIG_INVALID' },
  { input: 'SIGNFLOW_QES_ENABLED=maybe', env: { SIGNFLOW_QES_ENABLED: 'maybe' }, code: 'CONFIG_INVALID' },
  { input: 'SIGNFLOW_EXPIRY=banana', env: { SIGNFLOW_EXPIRY: 'banana' }, code: 'CONFIG_INVALID' },
  { input: 'SIGNFLOW_REMINDER_MAX=-1', env: { SIGNFLOW_REMINDER_MAX: '-1' }, code: 'CONFIG_INVALID' },
  {
    input: 'SIGNFLOW_SMTP_URL=http://mail.example.de',
    env: { SIGNFLOW_SMTP_URL: 'http://mail.example.de' },
    code: 'CONFIG_INVALID',
  },
  { input: 'SIGNFLOW_MAIL_FROM=nobody', env: { SIGNFLOW_MAIL_FROM: 'nobody' }, code: 'CONFIG_INVALID' },
  {
    input: 'SIGNFLOW_STAFF_MAIL=two@x.de,three@x.de',
    env: { SIGNFLOW_STAFF_MAIL: 'two@x.de,three@x.de' },
    code: 'CONFIG_INVALID',
  },
  { input: 'SIGNFLOW_STAFF_DIGEST_CRON=daily', env: { SIGNFLOW_STAFF_DIGEST_CRON: 'daily' }, code: 'CONFIG_INVALID' },
  {
    input: 'SIGNFLOW_CRM_MAPPING=a file that does not exist',
    env: { SIGNFLOW_CRM_MAPPING: '/nonexistent/crm-mapping.json' },
    code: 'CONFIG_INVALID',
  },
  {
    input: 'SIGNFLOW_QES_ENABLED=true without a Konnektor',
    env: { SIGNFLOW_QES_ENABLED: 'true' },
    code: 'CONFIG_INVALID',
  },
  {
    input: 'SIGNFLOW_DATABASE_URL=postgres://db/crm',
    env: { SIGNFLOW_DATABASE_URL: 'postgres://db/crm' },
    code: 'CONFIG_INVALID',
  },
];

interface CatalogueRow {
  door: 'API' | 'CLI' | 'outbox' | 'CRM data' | 'configuration';
  input: string;
  code: string;
  /** Runs the input through its door; answers the code and, for the outbox, the row it wrote itself. */
  run: () => Promise<{ code: string; ownOutboxRow?: number }>;
  startsNothing?: () => number;
}

function catalogue(): CatalogueRow[] {
  const rows: CatalogueRow[] = [];
  for (const c of CASES) {
    const door = (d: 'API' | 'CLI' | 'outbox') => (c.crmData ? 'CRM data' : d);
    const via = (d: string) => (c.crmData ? ` (via ${d})` : '');
    rows.push({
      door: door('API'),
      input: `${c.name}${via('API')}`,
      code: c.code,
      run: async () => ({ code: await viaApi(c) }),
      startsNothing: c.startsNothing,
    });
    const cli = c.cli;
    if (cli) {
      rows.push({
        door: door('CLI'),
        input: `${c.name}${via('CLI')}`,
        code: c.code,
        run: async () => ({ code: await viaCli(cli()) }),
        startsNothing: c.startsNothing,
      });
    }
    const outbox = c.outbox;
    if (outbox) {
      rows.push({
        door: door('outbox'),
        input: `${c.name}${via('outbox')}`,
        code: c.code,
        run: () => viaOutbox(outbox()),
        startsNothing: c.startsNothing,
      });
    }
  }
  for (const k of CONFIG_CASES) {
    rows.push({
      door: 'configuration',
      input: `${k.input} (signflow start)`,
      code: k.code,
      run: async () => ({ code: await viaCli(['start', String(ids.sendable)], k.env) }),
      startsNothing: () => ids.sendable,
    });
  }
  return rows;
}

/** Every table, every row (in insertion order); binary columns as their SHA-256, so that a changed byte shows. */
async function dumpDatabase(): Promise<Record<string, unknown[]>> {
  const db = api.stack.t.db;
  const tables = (await db('sqlite_master')
    .where({ type: 'table' })
    .andWhereNot('name', 'like', 'sqlite_%')
    .orderBy('name')
    .pluck('name')) as string[];
  const dump: Record<string, unknown[]> = {};
  for (const table of tables) {
    const rows = (await db.raw(`SELECT rowid AS __rowid, * FROM "${table}" ORDER BY rowid`)) as Record<
      string,
      unknown
    >[];
    dump[table] = rows.map((row) =>
      Object.fromEntries(
        Object.entries(row).map(([k, v]) => [
          k,
          Buffer.isBuffer(v) ? `sha256:${createHash('sha256').update(v).digest('hex')}` : v,
        ])
      )
    );
  }
  return dump;
}

/**
 * Status and history length of every workflow a row could have started or moved ('none' when there is none): the
 * contract workflow of every contract in the database (a door that read '01' or '0x11' as a number would start one of
 * those), of every id the cases name, and every workflow the server lists.
 */
async function workflowSnapshot(): Promise<Record<string, string>> {
  const k = api.stack.config.crm.contracts;
  const contractIds = (await api.stack.t.db(k.table).pluck(k.id)) as unknown[];
  const workflowIds = new Set(
    [...Object.values(ids), ...contractIds, 1_999_999].map((id) => `honorarvertrag-${String(id)}`)
  );
  for await (const w of deps.client.workflow.list()) workflowIds.add(w.workflowId);
  const out: Record<string, string> = {};
  for (const workflowId of [...workflowIds].sort()) {
    const d = await deps.client.workflow
      .getHandle(workflowId)
      .describe()
      .then(
        (x) => `${x.status.name}:${x.historyLength}`,
        () => 'none'
      );
    out[workflowId] = d;
  }
  return out;
}

/** What the previous row left behind: the next row starts from it, so an effect that shows up late is caught too. */
let previous: { dump: Record<string, unknown[]>; mails: number; workflows: Record<string, string> } | undefined;

describe('the bad-input catalogue: door, input, code; database, inbox and workflows unchanged', () => {
  const rows = catalogue();
  test('has at least 60 rows, through every door', () => {
    expect(rows.length).toBeGreaterThanOrEqual(60);
    expect(new Set(rows.map((r) => r.door))).toEqual(new Set(['API', 'CLI', 'outbox', 'CRM data', 'configuration']));
  });

  test.each(rows.map((r) => [r.door, r.input, r.code, r] as const))('%s | %s -> %s', async (_d, _i, _c, row) => {
    const dumpBefore = await dumpDatabase();
    const mailsBefore = api.stack.inbox.messages().length;
    const workflowsBefore = await workflowSnapshot();
    if (previous) {
      // Nothing arrived after the previous row was checked (a mail, a write or a workflow step it set off late).
      expect({ sincePreviousRow: { dump: dumpBefore, mails: mailsBefore, workflows: workflowsBefore } }).toEqual({
        sincePreviousRow: previous,
      });
    }

    const answer = await row.run();
    expect(answer.code).toBe(row.code);

    const dumpAfter = await dumpDatabase();
    const mailsAfter = api.stack.inbox.messages().length;
    const workflowsAfter = await workflowSnapshot();
    previous = { dump: structuredClone(dumpAfter), mails: mailsAfter, workflows: workflowsAfter };
    if (answer.ownOutboxRow !== undefined) {
      // The outbox door's input is its own row (now marked failed with the code): everything else is unchanged.
      dumpAfter[OUTBOX_TABLE] = (dumpAfter[OUTBOX_TABLE] ?? []).filter(
        (r) => Number((r as { id: unknown }).id) !== answer.ownOutboxRow
      );
    }
    expect(dumpAfter).toEqual(dumpBefore);
    expect(mailsAfter).toBe(mailsBefore);
    expect(workflowsAfter).toEqual(workflowsBefore);
    if (row.startsNothing) expect(await describeContract(deps.client, row.startsNothing())).toBeUndefined();
  });
});
