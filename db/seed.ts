/**
 * Demo data for the dev stack and the tests, written through the CRM mapping. Idempotent: contacts are found again by
 * e-mail and contracts by (contact, title), so running it twice adds nothing and returns the same ids.
 */
import type { Knex } from 'knex';
import type { CrmMapping } from './crm-mapping';

export interface SeedResult {
  /** Freelancers (Honorarkräfte) with valid e-mail addresses. */
  contactIds: number[];
  /** Contracts in the first sendable status whose contact has a valid e-mail: ready for a demo signature request. */
  contractIds: number[];
  /** A staff member, for manual confirmations. */
  staffContactId: number;
  /** A contact whose e-mail is syntactically invalid. */
  invalidEmailContactId: number;
  /** A sendable contract of that contact (fails validation with `CONTACT_EMAIL_INVALID`). */
  invalidEmailContractId: number;
  /** A contract that is already `in Durchführung` (fails validation with `CONTRACT_NOT_SENDABLE`). */
  inProgressContractId: number;
}

interface DemoContact {
  firstName: string;
  lastName: string;
  email: string;
}

interface DemoContract {
  contact: number;
  title: string;
  start: string;
  end: string;
  feeCents: number;
  description: string;
}

const FREELANCERS: DemoContact[] = [
  { firstName: 'Anna', lastName: 'Müller', email: 'anna.mueller@example.org' },
  { firstName: 'Jörg', lastName: 'Weiß', email: 'joerg.weiss@example.org' },
  { firstName: 'Özlem', lastName: 'Yılmaz', email: 'oezlem.yilmaz@example.org' },
];
/** The seeded staff member (for `signflow confirm … --staff <id>`; the dev banner names her). */
export const DEMO_STAFF: DemoContact = {
  firstName: 'Petra',
  lastName: 'Schäfer',
  email: 'praxis.schaefer@example.org',
};
/** No @: the CRM lets staff type anything, the plugin must refuse to send. */
const INVALID: DemoContact = { firstName: 'Max', lastName: 'Ohnemail', email: 'max.ohnemail(at)example.org' };

const SENDABLE: DemoContract[] = [
  {
    contact: 0,
    title: 'Honorarvertrag Logopädie Q1/2027',
    start: '2027-01-01',
    end: '2027-03-31',
    feeCents: 450000,
    description: 'Logopädische Therapie für Kinder, zwei Vormittage pro Woche in der Praxis.',
  },
  {
    contact: 0,
    title: 'Honorarvertrag Vertretung Sommer 2027',
    start: '2027-07-01',
    end: '2027-08-31',
    feeCents: 320050,
    description: 'Urlaubsvertretung: Behandlungen nach ärztlicher Verordnung, Dokumentation im Praxissystem.',
  },
  {
    contact: 1,
    title: 'Honorarvertrag Ergotherapie 2027',
    start: '2027-02-01',
    end: '2027-12-31',
    feeCents: 1250000,
    description: 'Ergotherapeutische Behandlungen für Erwachsene nach Schlaganfall („Handtraining“ & Alltag).',
  },
  {
    contact: 2,
    title: 'Honorarvertrag Physiotherapie Hausbesuche',
    start: '2027-03-01',
    end: '2027-06-30',
    feeCents: 99999,
    description: 'Hausbesuche im Umkreis von 15 km, Abrechnung je Besuch.',
  },
];

async function upsertContact(db: Knex, crm: CrmMapping, contact: DemoContact): Promise<number> {
  const k = crm.contacts;
  const existing = await db(k.table).where(k.email, contact.email).first(k.id);
  if (existing) return Number(existing[k.id]);
  const [id] = await db(k.table).insert({
    [k.firstName]: contact.firstName,
    [k.lastName]: contact.lastName,
    [k.email]: contact.email,
  });
  return Number(id);
}

async function upsertContract(
  db: Knex,
  crm: CrmMapping,
  contactId: number,
  c: DemoContract,
  status: string
): Promise<number> {
  const k = crm.contracts;
  const existing = await db(k.table)
    .where({ [k.contactId]: contactId, [k.title]: c.title })
    .first(k.id);
  if (existing) return Number(existing[k.id]);
  const [id] = await db(k.table).insert({
    [k.contactId]: contactId,
    [k.title]: c.title,
    [k.status]: status,
    [k.lastStatusChange]: new Date(Date.UTC(2026, 10, 2, 9, 0, 0)),
    [k.confirmedByFreelancer]: crm.values.no,
    [k.start]: c.start,
    [k.end]: c.end,
    [k.feeCents]: c.feeCents,
    [k.description]: c.description,
  });
  return Number(id);
}

export async function seedDemo(db: Knex, crm: CrmMapping): Promise<SeedResult> {
  return db.transaction(async (trx) => {
    const [sendable] = crm.values.contractSendableStatuses;
    if (sendable === undefined) throw new Error('seed: the CRM mapping lists no sendable contract status');
    const contactIds: number[] = [];
    for (const f of FREELANCERS) contactIds.push(await upsertContact(trx, crm, f));
    const staffContactId = await upsertContact(trx, crm, DEMO_STAFF);
    const invalidEmailContactId = await upsertContact(trx, crm, INVALID);

    const contractIds: number[] = [];
    for (const c of SENDABLE) {
      const contactId = contactIds[c.contact];
      if (contactId === undefined) throw new Error(`seed: no demo contact #${c.contact}`);
      contractIds.push(await upsertContract(trx, crm, contactId, c, sendable));
    }
    const invalidEmailContractId = await upsertContract(
      trx,
      crm,
      invalidEmailContactId,
      { ...SENDABLE[0]!, contact: -1, title: 'Honorarvertrag ohne gültige E-Mail' },
      sendable
    );
    const inProgressContractId = await upsertContract(
      trx,
      crm,
      contactIds[1]!,
      { ...SENDABLE[2]!, title: 'Honorarvertrag Ergotherapie 2026 (läuft)', start: '2026-01-01', end: '2026-12-31' },
      crm.values.contractInProgress
    );
    return {
      contactIds,
      contractIds,
      staffContactId,
      invalidEmailContactId,
      invalidEmailContractId,
      inProgressContractId,
    };
  });
}
