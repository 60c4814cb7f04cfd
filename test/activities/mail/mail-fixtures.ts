/** Rows the mail tests need beyond the demo seed, written through the test database's CRM mapping. */
import type { Knex } from 'knex';
import type { CrmMapping } from '../../../db/crm-mapping';

export async function insertContact(
  db: Knex,
  crm: CrmMapping,
  contact: { firstName: string; lastName: string; email: string | null }
): Promise<number> {
  const k = crm.contacts;
  const [id] = await db(k.table).insert({
    [k.firstName]: contact.firstName,
    [k.lastName]: contact.lastName,
    [k.email]: contact.email,
  });
  return Number(id);
}

export async function insertContract(
  db: Knex,
  crm: CrmMapping,
  contract: { contactId: number; title: string; status?: string; confirmedBy?: number }
): Promise<number> {
  const c = crm.contracts;
  const [id] = await db(c.table).insert({
    [c.contactId]: contract.contactId,
    [c.title]: contract.title,
    [c.status]: contract.status ?? crm.values.contractSent,
    [c.confirmedBy]: contract.confirmedBy ?? null,
  });
  return Number(id);
}
