/**
 * The Konnektor in the practice network, the rest hosted: a real Temporal dev server, real Konnektor simulators
 * (mutual TLS, strict), a hosted main worker that has no Konnektor at all, and one on-site Konnektor worker per
 * practice (`createKonnektorWorker`, each on its own task queue with a Konnektor client built from its own config).
 *
 * 1. One practice with two eHBAs (`SIGNFLOW_KONNEKTOR_TASK_QUEUE`, the contract's eHBA in a CRM column).
 * 2. One hosted CRM serving two practices (`SIGNFLOW_KONNEKTOR_MANDANTEN`: two Mandanten, two Konnektoren, two
 *    queues; the contract's Mandant in a CRM column).
 *
 * Each contract must be countersigned by the right Konnektor with the right card (the simulator's own record of the
 * SignDocument call, and the card signflow recorded), and every Konnektor activity must have been scheduled on the
 * practice's queue and run by that practice's worker, never by the main worker (the workflow histories say who ran
 * what).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { createKonnektorActivities } from '../../activities/konnektor/konnektor.activities';
import { createKonnektorClient } from '../../activities/konnektor/client-from-config';
import { contractHandle, startContractWorkflow } from '../../client/contract-client';
import { startKonnektorSimulator, type RunningKonnektorSimulator } from '../../konnektor-simulator';
import { startDevInbox, type DevInbox } from '../../mail/dev-inbox';
import { createMailer, type Mailer } from '../../mail/mailer';
import { deepMerge, loadConfig, type SignflowConfig } from '../../temporal.config';
import { createKonnektorWorker, type RunningKonnektorWorker } from '../../worker/konnektor-worker';
import { createWorker, type RunningWorker } from '../../worker/run-worker';
import {
  KONNEKTOR_ACTIVITY_NAMES,
  qesSignerWorkflowId,
  statusQuery,
  type ContractResult,
} from '../../workflows/definitions';
import { createTestDb, type TestDb } from '../../harness/databases';
import { getFreePort, startDevServer, workflowBundle, type DevServerHandle } from '../../harness/temporal';
import { addSendableContract } from '../helpers/contract-stack';
import { recordHistory } from '../helpers/histories';
import { eventually, settledResult } from '../helpers/waits';

jest.setTimeout(600_000);

const MANDANT_COLUMN = 'mandant';
const ICCSN_COLUMN = 'gegenzeichner_iccsn';

/** Practice "Nord": one Konnektor, two eHBAs. */
const NORD_1 = '80276001011699910101';
const NORD_2 = '80276001011699910102';
/** Practice "Süd": its own Konnektor (another Mandant id in its information model). */
const SUED_1 = '80276001011699920201';

let temporal: DevServerHandle;
let client: Client;
let simNord: RunningKonnektorSimulator;
let simSued: RunningKonnektorSimulator;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-on-site-'));

beforeAll(async () => {
  temporal = await startDevServer();
  client = temporal.env.client;
  const sim = { adminPort: false as const, maxSessionsPerCard: 50, comfort: { max: 250 } };
  simNord = await startKonnektorSimulator({ ...sim, hba: { iccsn: NORD_1, holderName: 'Dr. Nora Nord' } });
  // The practice's second eHBA, in the same Konnektor's second slot.
  const first = simNord.admin.cards().find((c) => c.iccsn === NORD_1)!;
  simNord.admin
    .cards()
    .push({ ...first, handle: 'HBA-nord-zwei', iccsn: NORD_2, holderName: 'Dr. Zora Zwei', slotId: 3 });
  simSued = await startKonnektorSimulator({
    ...sim,
    hba: { iccsn: SUED_1, holderName: 'Dr. Sven Süd' },
    infoModel: { mandantId: 'Mandant2' },
  });
});

afterAll(async () => {
  await simNord?.close();
  await simSued?.close();
  await temporal?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The on-site worker's settings, as its own environment would give them: its queue, its Konnektor, its Mandant id. */
function siteConfig(
  base: SignflowConfig,
  name: string,
  sim: RunningKonnektorSimulator,
  taskQueue: string,
  mandantId: string
): SignflowConfig {
  const zip = path.join(tmp, `${name}-client.zip`);
  fs.writeFileSync(zip, sim.clientZip);
  return loadConfig(
    deepMerge(
      { temporal: base.temporal, database: base.database, crm: base.crm },
      {
        konnektor: {
          enabled: true,
          taskQueue,
          sdsUrl: sim.sdsUrl,
          clientZipPath: zip,
          serverFingerprint: sim.fingerprint,
          mandantId,
          callTimeout: '30s',
        },
      }
    ),
    {}
  );
}

interface Site {
  name: string;
  sim: RunningKonnektorSimulator;
  config: SignflowConfig;
  worker: RunningKonnektorWorker;
}

interface Hosted {
  t: TestDb;
  config: SignflowConfig;
  inbox: DevInbox;
  mailer: Mailer;
  main: RunningWorker;
  sites: Site[];
  stop(): Promise<void>;
}

let stackCounter = 0;

/**
 * The hosted side (database, SMTP, main worker without any Konnektor setting but the routing) and the on-site workers.
 * The CRM gets the routing columns the mapping names.
 */
async function startHosted(
  hostedKonnektor: Record<string, unknown>,
  crmContracts: Record<string, string>,
  sites: Array<{ name: string; sim: RunningKonnektorSimulator; taskQueue: string; mandantId: string; cards: string[] }>
): Promise<Hosted> {
  // Contract ids (and so request ids) start again in every fresh CRM: the simulators' records start again too.
  for (const s of sites) s.sim.admin.clearCalls();
  const inbox = await startDevInbox({ port: await getFreePort() });
  const overrides = {
    temporal: { taskQueue: `signflow-hosted-${process.pid}-${++stackCounter}`, namespace: temporal.namespace },
    mail: { smtpUrl: `smtp://127.0.0.1:${inbox.port}` },
    signature: { remindersEnabled: false, expiry: '30d' },
    crm: { contracts: crmContracts },
    konnektor: { enabled: true, recheckInterval: '5m', ...hostedKonnektor },
  };
  const t = await createTestDb('sqlite', { config: overrides });
  const c = t.config.crm.contracts;
  await t.db.schema.alterTable(c.table, (table) => {
    if (crmContracts.mandant) table.string(crmContracts.mandant, 64).nullable();
    if (crmContracts.countersignIccsn) table.string(crmContracts.countersignIccsn, 20).nullable();
  });
  const config = loadConfig(deepMerge(overrides, { database: { url: t.url } }), {});
  const mailer = createMailer(config.mail.smtpUrl, config.mail.from);
  // No SIGNFLOW_KONNEKTOR_SDS_URL, no certificate: the hosted worker could not reach a Konnektor even if it tried.
  expect(config.konnektor.sdsUrl).toBeUndefined();
  const main = await createWorker(config, {
    connection: temporal.env.nativeConnection,
    workflowBundle: await workflowBundle(),
    db: t.db,
    mailer,
    temporalClient: client,
    workerOptions: { identity: 'hosted-main' },
  });
  const running: Site[] = [];
  for (const s of sites) {
    const cfg = siteConfig(config, s.name, s.sim, s.taskQueue, s.mandantId);
    // Staff activate the comfort signature on-site (`signflow konnektor activate` there), once per eHBA.
    const konnektor = createKonnektorClient(cfg.konnektor);
    try {
      const acts = createKonnektorActivities({ konnektor, db: t.db, config: cfg });
      for (const iccsn of s.cards)
        await acts.activateComfortSignature({ iccsn, staffContactId: t.seed.staffContactId });
    } finally {
      konnektor.close();
    }
    const worker = await createKonnektorWorker(cfg, {
      connection: temporal.env.nativeConnection,
      db: t.db,
      workerOptions: { identity: `on-site-${s.name}` },
    });
    running.push({ name: s.name, sim: s.sim, config: cfg, worker });
  }
  return {
    t,
    config,
    inbox,
    mailer,
    main,
    sites: running,
    async stop() {
      for (const s of running) await s.worker.shutdown();
      await main.shutdown();
      mailer.close();
      await inbox.close();
      await t.destroy();
    },
  };
}

/** A sendable contract with the given routing columns, started and confirmed by staff; returns its id. */
async function confirmedContract(h: Hosted, routing: Record<string, string | null>): Promise<number> {
  const contractId = await addSendableContract(h.t);
  const c = h.config.crm.contracts;
  await h.t.db(c.table).where(c.id, contractId).update(routing);
  await startContractWorkflow(client, h.config, contractId);
  const handle = contractHandle(client, contractId);
  await eventually(async () => expect((await handle.query(statusQuery)).phase).toBe('awaiting-signature'), 60_000);
  await handle.executeUpdate('confirmManually', { args: [{ staffContactId: h.t.seed.staffContactId }] });
  return contractId;
}

/** The card (ICCSN) the simulator signed this contract's document with, from its own record of SignDocument calls. */
function cardThatSigned(sim: RunningKonnektorSimulator, contractId: number): string | undefined {
  const marker = `honorarvertrag-${contractId}/qes/`;
  const call = sim.admin.calls().find((x) => x.operation === 'SignDocument' && x.request.includes(marker));
  if (!call) return undefined;
  const handle = /CardHandle[^>]*>([^<]+)</.exec(call.request)?.[1];
  return sim.admin.cards().find((card) => card.handle === handle)?.iccsn;
}

/**
 * Every activity the workflow scheduled, with its queue and the identity of the worker that ran it (from the history).
 */
async function activitiesOf(workflowId: string): Promise<Array<{ type: string; queue: string; ranBy: string }>> {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const scheduled = new Map<number, { type: string; queue: string }>();
  const out: Array<{ type: string; queue: string; ranBy: string }> = [];
  for (const e of events) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) {
      scheduled.set(Number(e.eventId), { type: s.activityType?.name ?? '', queue: s.taskQueue?.name ?? '' });
    }
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const of = scheduled.get(Number(started.scheduledEventId));
      if (of) out.push({ ...of, ranBy: started.identity ?? '' });
    }
  }
  return out;
}

const isKonnektorActivity = (type: string) => (KONNEKTOR_ACTIVITY_NAMES as readonly string[]).includes(type);

async function expectCountersigned(h: Hosted, contractId: number, iccsn: string, site: Site): Promise<void> {
  const result: ContractResult = await settledResult(client, contractId, 180_000);
  expect(result.outcome).toBe('confirmed');
  expect(result.qesDocumentId).toBeGreaterThan(0);
  // The simulator of the practice signed it, with the card the contract asked for; the other did not see it.
  expect(cardThatSigned(site.sim, contractId)).toBe(iccsn);
  for (const other of h.sites.filter((s) => s.sim !== site.sim))
    expect(cardThatSigned(other.sim, contractId)).toBe(undefined);
  // signflow recorded the same card.
  const row = (await h.t.db('signflow_qes').where('contract_id', contractId).first()) as { card_iccsn: string };
  expect(row.card_iccsn).toBe(iccsn);
}

/** No Konnektor activity in a contract workflow; in the signer, each one on the site's queue and run by its worker. */
async function expectOnlyOnSite(h: Hosted, contractIds: number[], signers: Array<{ iccsn: string; site: Site }>) {
  for (const id of contractIds) {
    const acts = await activitiesOf(`honorarvertrag-${id}`);
    expect(acts.filter((a) => isKonnektorActivity(a.type))).toEqual([]);
    expect(acts.every((a) => a.queue === h.config.temporal.taskQueue && a.ranBy === 'hosted-main')).toBe(true);
  }
  for (const { iccsn, site } of signers) {
    const acts = await activitiesOf(qesSignerWorkflowId(iccsn));
    const konnektorActs = acts.filter((a) => isKonnektorActivity(a.type));
    expect(konnektorActs.map((a) => a.type)).toContain('signDocuments');
    for (const a of konnektorActs) {
      expect(a).toEqual({ type: a.type, queue: site.worker.taskQueue, ranBy: `on-site-${site.name}` });
    }
    // Whatever else the signer ran (a staff mail) stayed on the hosted side.
    for (const a of acts.filter((x) => !isKonnektorActivity(x.type))) expect(a.ranBy).toBe('hosted-main');
  }
}

async function terminateSigners(iccsns: string[]): Promise<void> {
  for (const iccsn of iccsns) {
    await client.workflow
      .getHandle(qesSignerWorkflowId(iccsn))
      .terminate('test over')
      .catch(() => undefined);
  }
}

describe('one practice with two eHBAs, its Konnektor on-site (SIGNFLOW_KONNEKTOR_TASK_QUEUE)', () => {
  let h: Hosted;
  const queue = `signflow-konnektor-praxis-nord-${process.pid}`;

  beforeAll(async () => {
    h = await startHosted({ taskQueue: queue, hbaIccsn: NORD_1 }, { countersignIccsn: ICCSN_COLUMN }, [
      { name: 'nord', sim: simNord, taskQueue: queue, mandantId: 'Mandant1', cards: [NORD_1, NORD_2] },
    ]);
  });
  afterAll(async () => {
    await terminateSigners([NORD_1, NORD_2]);
    await h?.stop();
  });

  test("each contract is countersigned with its own eHBA on the on-site worker's queue; the main worker ran no Konnektor call", async () => {
    const [site] = h.sites as [Site];
    const first = await confirmedContract(h, { [ICCSN_COLUMN]: NORD_1 });
    const second = await confirmedContract(h, { [ICCSN_COLUMN]: NORD_2 });
    // No eHBA in the row: the practice's default (SIGNFLOW_KONNEKTOR_HBA_ICCSN).
    const byDefault = await confirmedContract(h, { [ICCSN_COLUMN]: null });
    await expectCountersigned(h, first, NORD_1, site);
    await expectCountersigned(h, second, NORD_2, site);
    await expectCountersigned(h, byDefault, NORD_1, site);
    // A signer whose Konnektor calls go on-site (the `konnektor-task-queue` patch), for test/replay.
    await recordHistory(client.workflow.getHandle(qesSignerWorkflowId(NORD_2)), 'qes-signer-on-site');
    await expectOnlyOnSite(
      h,
      [first, second, byDefault],
      [
        { iccsn: NORD_1, site },
        { iccsn: NORD_2, site },
      ]
    );
  });
});

describe('one hosted CRM serving two practices (SIGNFLOW_KONNEKTOR_MANDANTEN)', () => {
  let h: Hosted;
  const nordQueue = `signflow-konnektor-nord-${process.pid}`;
  const suedQueue = `signflow-konnektor-sued-${process.pid}`;

  beforeAll(async () => {
    h = await startHosted(
      {
        mandanten: {
          nord: { taskQueue: nordQueue, ehba: [NORD_1, NORD_2] },
          sued: { taskQueue: suedQueue, ehba: [SUED_1] },
        },
      },
      { mandant: MANDANT_COLUMN, countersignIccsn: ICCSN_COLUMN },
      [
        { name: 'nord', sim: simNord, taskQueue: nordQueue, mandantId: 'Mandant1', cards: [NORD_1, NORD_2] },
        { name: 'sued', sim: simSued, taskQueue: suedQueue, mandantId: 'Mandant2', cards: [SUED_1] },
      ]
    );
  });
  afterAll(async () => {
    await terminateSigners([NORD_1, NORD_2, SUED_1]);
    await h?.stop();
  });

  test("each practice's contracts are countersigned by its own Konnektor and card, through its own queue", async () => {
    const [nord, sued] = h.sites as [Site, Site];
    const nordDefault = await confirmedContract(h, { [MANDANT_COLUMN]: 'nord', [ICCSN_COLUMN]: null });
    const nordSecond = await confirmedContract(h, { [MANDANT_COLUMN]: 'nord', [ICCSN_COLUMN]: NORD_2 });
    const suedContract = await confirmedContract(h, { [MANDANT_COLUMN]: 'sued', [ICCSN_COLUMN]: null });
    await expectCountersigned(h, nordDefault, NORD_1, nord);
    await expectCountersigned(h, nordSecond, NORD_2, nord);
    await expectCountersigned(h, suedContract, SUED_1, sued);
    await expectOnlyOnSite(
      h,
      [nordDefault, nordSecond, suedContract],
      [
        { iccsn: NORD_1, site: nord },
        { iccsn: NORD_2, site: nord },
        { iccsn: SUED_1, site: sued },
      ]
    );
  });

  test('a contract of an unknown Mandant is not countersigned by anyone; the others go on', async () => {
    const [nord] = h.sites as [Site, Site];
    const stray = await confirmedContract(h, { [MANDANT_COLUMN]: 'west', [ICCSN_COLUMN]: null });
    const handle = contractHandle(client, stray);
    // The routing step retries with a message that names the Mandant and the variable, and nothing is signed.
    await eventually(
      async () => {
        const raw = await client.workflowService.describeWorkflowExecution({
          namespace: temporal.namespace,
          execution: { workflowId: handle.workflowId },
        });
        const failure = raw.pendingActivities?.find((p) => p.activityType?.name === 'requestCountersign')?.lastFailure;
        expect(failure?.applicationFailureInfo?.type).toBe('COUNTERSIGN_ROUTE_UNKNOWN');
        // signflow's failure converter moves the message into the (codec-encoded) attributes; no codec here.
        const encoded = failure?.encodedAttributes?.data;
        const message = encoded
          ? (JSON.parse(Buffer.from(encoded).toString('utf8')) as { message: string }).message
          : '';
        expect(message).toContain('Mandant "west"');
        expect(message).toContain('SIGNFLOW_KONNEKTOR_MANDANTEN');
      },
      120_000,
      500
    );
    expect((await handle.query(statusQuery)).phase).toBe('countersigning');
    expect(await h.t.db('signflow_qes').where('contract_id', stray).first()).toBeUndefined();
    // Another contract of a known practice is countersigned meanwhile.
    const other = await confirmedContract(h, { [MANDANT_COLUMN]: 'nord', [ICCSN_COLUMN]: null });
    await expectCountersigned(h, other, NORD_1, nord);
    await handle.terminate('test over');
  });
});
