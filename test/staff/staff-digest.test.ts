/**
 * The daily staff digest: the Temporal Schedule runs the `staffDigest` workflow, whose mail to `SIGNFLOW_STAFF_MAIL`
 * lists the pending signatures older than N days, the contracts whose QES countersignature is parked, and the mails
 * the recipient's server refused. Switching it off removes the schedule. On the dev server (visibility queries),
 * with the real worker, SQLite, SMTP inbox and the Konnektor simulator.
 */
import type { Client } from '@temporalio/client';
import type { KonnektorClient } from '../../activities/konnektor/konnektor-client';
import { contractHandle, startContractWorkflow } from '../../client/contract-client';
import { startKonnektorSimulator, type RunningKonnektorSimulator } from '../../konnektor-simulator';
import type { CapturedMail } from '../../mail/dev-inbox';
import { ensureStaffDigestSchedule, STAFF_DIGEST_SCHEDULE_ID } from '../../staff/digest-schedule';
import { loadConfig, deepMerge } from '../../temporal.config';
import { statusQuery } from '../../workflows/definitions';
import { clientFor } from '../konnektor/helpers';
import { addSendableContract, startContractStack, type ContractStack } from '../helpers/contract-stack';
import { startDevServer, type DevServerHandle } from '../../harness/temporal';
import { eventually } from '../helpers/waits';

jest.setTimeout(300_000);

const STAFF = 'praxis-team@example.org';
const REFUSED = 'verzogen@example.org';

let server: DevServerHandle;
let sim: RunningKonnektorSimulator;
let konnektor: KonnektorClient;
let stack: ContractStack;
let client: Client;

const isDigest = (m: CapturedMail): boolean =>
  String(m.headers['x-signflow-mail-key'] ?? '').startsWith('staff-digest:');

async function started(contractId: number): Promise<void> {
  await startContractWorkflow(client, stack.config, contractId);
  await eventually(async () =>
    expect((await contractHandle(client, contractId).query(statusQuery)).phase).toBe('awaiting-signature')
  );
}

beforeAll(async () => {
  server = await startDevServer();
  sim = await startKonnektorSimulator({ adminPort: false, maxSessionsPerCard: 50, comfort: { max: 250 } });
  konnektor = clientFor(sim, { maxRequestsPerCall: 50 });
  stack = await startContractStack(server.env, {
    konnektor,
    rejectRecipient: (address) => address === REFUSED,
    config: {
      konnektor: { enabled: true, sdsUrl: sim.sdsUrl, serverFingerprint: sim.fingerprint },
      signature: { remindersEnabled: false },
      staff: { mail: STAFF, digestPendingDays: 7, digestCron: '0 7 * * *' },
    },
  });
  client = stack.client;
});

afterAll(async () => {
  await stack?.stop();
  konnektor?.close();
  await sim?.close();
  await server?.stop();
});

test('the scheduled digest lists old pending signatures, parked countersignatures and refused mails', async () => {
  const crm = stack.config.crm;
  const c = crm.contracts;
  const db = stack.t.db;

  // Pending for 10 days (the CRM's last status change moved back), and one sent today (not listed).
  const old = await addSendableContract(stack.t);
  await started(old);
  await db(c.table)
    .where(c.id, old)
    .update({ [c.lastStatusChange]: new Date(Date.now() - 10 * 86_400_000) });
  const fresh = await addSendableContract(stack.t);
  await started(fresh);

  // A contact whose mail server refuses the invitation for good.
  const k = crm.contacts;
  const [refusedContact] = (await db(k.table).insert(
    { [k.firstName]: 'Jörg', [k.lastName]: 'Weiß', [k.email]: REFUSED },
    [k.id]
  )) as (number | Record<string, number>)[];
  const refusedContactId = typeof refusedContact === 'number' ? refusedContact : Number(refusedContact?.[k.id]);
  const refused = await addSendableContract(stack.t, refusedContactId);
  await startContractWorkflow(client, stack.config, refused);
  await eventually(async () =>
    expect((await contractHandle(client, refused).query(statusQuery)).mailsRejected).toEqual(['invitation'])
  );

  // Confirmed while the comfort signature is not active: parked.
  const parked = await addSendableContract(stack.t);
  await started(parked);
  await contractHandle(client, parked).executeUpdate('confirmManually', {
    args: [{ staffContactId: stack.t.seed.staffContactId }],
  });
  await eventually(async () => {
    const list = [];
    for await (const wf of client.workflow.list({ query: `WaitingReason = 'comfort-signature'` })) list.push(wf);
    expect(list.map((w) => w.workflowId)).toContain(`honorarvertrag-${parked}`);
  });

  expect(await ensureStaffDigestSchedule(client, stack.config)).toBe(STAFF_DIGEST_SCHEDULE_ID);
  const described = await client.schedule.getHandle(STAFF_DIGEST_SCHEDULE_ID).describe();
  expect(described.spec.timezone).toBe('Europe/Berlin');
  expect(JSON.stringify(described.spec)).toContain('7');
  await client.schedule.getHandle(STAFF_DIGEST_SCHEDULE_ID).trigger();

  const digest = await stack.inbox.waitFor(isDigest, 60_000);
  expect(digest.to).toEqual([STAFF]);
  expect(digest.subject).toMatch(
    /^signflow Tagesübersicht .*: 1 offen, 1 Gegenzeichnung\(en\) wartend, 1 E-Mail\(s\) abgelehnt$/
  );
  expect(digest.text).toContain('Unterschriften, die seit mehr als 7 Tagen ausstehen (1):');
  expect(digest.text).toContain(`- Honorarvertrag ${old} „`);
  expect(digest.text).not.toContain(`- Honorarvertrag ${fresh} „`);
  expect(digest.text).toMatch(
    new RegExp(`Wartende QES-Gegenzeichnungen \\(1\\):\\n- Honorarvertrag ${parked} „[^\\n]*COMFORT_SIGNATURE`)
  );
  expect(digest.text).toMatch(
    new RegExp(
      `abgelehnte E-Mails \\(1\\)[^\\n]*\\n- Honorarvertrag ${refused} „[^\\n]*invitation abgelehnt \\(SMTP 550\\)`
    )
  );
  expect(digest.text).not.toContain(REFUSED);

  // Switched off: the schedule goes away.
  const off = loadConfig(deepMerge(stack.config, { staff: { digestEnabled: false } }), {});
  expect(await ensureStaffDigestSchedule(client, off)).toBeUndefined();
  await expect(client.schedule.getHandle(STAFF_DIGEST_SCHEDULE_ID).describe()).rejects.toThrow();
});
