/**
 * Staff are told when a person is needed: when the eHBA's signer parks, one mail to `SIGNFLOW_STAFF_MAIL` (German,
 * with the gematik code, the number of waiting contracts and the exact action), and one more after
 * `staff.parkedReminderAfter`, never a third for the same parking. Real activities against the Konnektor simulator, a
 * real SQLite database and SMTP inbox, on the time-skipping server (which skips the hour of waiting).
 */
import { MockActivityEnvironment, type TestWorkflowEnvironment } from '@temporalio/testing';
import type { Client } from '@temporalio/client';
import { createKonnektorActivities, type KonnektorActivities } from '../../activities/konnektor/konnektor.activities';
import type { KonnektorClient } from '../../activities/konnektor/konnektor-client';
import { contractHandle } from '../../client/contract-client';
import { startKonnektorSimulator, type RunningKonnektorSimulator } from '../../konnektor-simulator';
import type { CapturedMail } from '../../mail/dev-inbox';
import { clientFor } from '../konnektor/helpers';
import { startContractStack, type ContractStack } from '../helpers/contract-stack';
import { createTimeSkippingEnv } from '../../harness/temporal';
import { confirmedByStaff, parkedAtSigner } from '../helpers/countersign-contracts';
import { settledResult } from '../helpers/waits';

jest.setTimeout(300_000);

const STAFF = 'praxis-team@example.org';

let env: TestWorkflowEnvironment;
let sim: RunningKonnektorSimulator;
let konnektor: KonnektorClient;
let stack: ContractStack;
let client: Client;
let acts: KonnektorActivities;
const activity = new MockActivityEnvironment();

const isStaffParked = (m: CapturedMail): boolean =>
  String(m.headers['x-signflow-mail-key'] ?? '').includes(':staff-parked:');
const staffParkedMails = (): CapturedMail[] => stack.inbox.messages().filter(isStaffParked);

const confirmedContract = (): Promise<number> => confirmedByStaff(stack, client);

const parked = (contractId: number): Promise<void> => parkedAtSigner(client, contractId);

beforeAll(async () => {
  env = await createTimeSkippingEnv();
  sim = await startKonnektorSimulator({ adminPort: false, maxSessionsPerCard: 50, comfort: { max: 250 } });
  konnektor = clientFor(sim, { maxRequestsPerCall: 50 });
  stack = await startContractStack(env, {
    konnektor,
    config: {
      konnektor: { enabled: true, sdsUrl: sim.sdsUrl, serverFingerprint: sim.fingerprint, recheckInterval: '20m' },
      signature: { remindersEnabled: false, expiry: '30d' },
      staff: { mail: STAFF, parkedReminderAfter: '1h' },
    },
  });
  client = stack.client;
  acts = createKonnektorActivities({ konnektor, db: stack.t.db, config: stack.config });
});

afterAll(async () => {
  await stack?.stop();
  konnektor?.close();
  await sim?.close();
  await env?.teardown();
});

test('parking mails staff once, once more after the configured wait, and never a third time', async () => {
  // Comfort signature not active: the signer parks and stays parked at every recheck.
  const contractId = await confirmedContract();
  await parked(contractId);

  const first = await stack.inbox.waitFor(isStaffParked);
  expect(first.to).toEqual([STAFF]);
  expect(first.subject).toMatch(/^QES-Gegenzeichnung angehalten: 1 Vertrag wartet \(COMFORT_SIGNATURE_NOT_ACTIVE\)$/);
  expect(first.text).toContain('Was ist passiert: Die Komfortsignatur des eHBA ist nicht aktiv.');
  expect(first.text).toContain('Wartende Verträge: 1');
  expect(first.text).toContain('Was zu tun ist: Komfortsignatur am Kartenterminal aktivieren');
  expect(first.text).toContain('Befehl: signflow konnektor activate');
  // No personal data of the freelancer in a staff mail.
  const contact = await stack.t.db('kontakte').where('id', stack.t.seed.contactIds[0]).first();
  expect(first.text).not.toContain(String(contact.email));
  expect(first.text).not.toContain(String(contact.nachname));

  // A second contract joins the parked signer: it is told at once, staff are not mailed again.
  const second = await confirmedContract();
  await parked(second);
  await env.sleep('40m'); // two rechecks, before the reminder is due
  await parked(second);
  expect(staffParkedMails()).toHaveLength(1);

  await env.sleep('30m'); // past the hour: the one reminder
  const reminder = await stack.inbox.waitFor((m) => isStaffParked(m) && m !== first);
  expect(reminder.subject).toMatch(/^Erinnerung: QES-Gegenzeichnung angehalten: 2 Verträge warten/);
  expect(reminder.text).toContain('wartet weiterhin');
  expect(reminder.text).toContain('Wartende Verträge: 2');

  // Hours more of parking: still two. Then staff activate; the contracts finish, which proves the signer went
  // through every recheck of those hours (a third mail would have come before the resume).
  await env.sleep('3h');
  await activity.run(acts.activateComfortSignature, { staffContactId: stack.t.seed.staffContactId });
  await contractHandle(client, contractId).signal('comfortSignatureReactivated', {});
  await settledResult(client, contractId);
  await settledResult(client, second);
  expect(staffParkedMails()).toHaveLength(2);
});

test('a new parking is a new notice: PIN blocked, with the gematik code and the action for it', async () => {
  sim.admin.faults.failNext(4063, 1, ['SignDocument']);
  const contractId = await confirmedContract();
  await parked(contractId);
  const mail = await stack.inbox.waitFor((m) => isStaffParked(m) && m.text.includes('PIN_BLOCKED'));
  expect(mail.subject).toContain('PIN_BLOCKED');
  expect(mail.text).toContain('gematik-Fehlercode 4063');
  expect(mail.text).toContain('Karteninhaber entsperrt die PIN mit der PUK');
  expect(mail.html).toContain('gematik-Fehlercode 4063');
  expect(staffParkedMails()).toHaveLength(3);
  await contractHandle(client, contractId).signal('comfortSignatureReactivated', {});
  await settledResult(client, contractId);
  expect(staffParkedMails()).toHaveLength(3);
});
