/**
 * Who may act as staff on a contract (confirm instead of the freelancer, withdraw): an existing contact, not the
 * contract's own freelancer (whose confirmation mail would thank him for a signature he never gave), and, when the CRM
 * mapping names a staff marker, one that carries it.
 */
import type { Knex } from 'knex';
import type { CrmMapping } from '../db/crm-mapping';
import { toBool } from '../db/crm-repository';
import { CommandError, CommandErrorCode } from './errors';

export async function assertStaff(
  db: Knex,
  crm: CrmMapping,
  staffContactId: number,
  contract: { id: number; contactId: number }
): Promise<void> {
  const c = crm.contacts;
  const columns = [c.id, ...(c.staffMarker ? [c.staffMarker] : [])];
  const row = (await db(c.table).where(c.id, staffContactId).first(columns)) as Record<string, unknown> | undefined;
  if (!row) {
    throw new CommandError(
      CommandErrorCode.CONTACT_NOT_FOUND,
      `staff contact ${staffContactId} does not exist in the CRM; nothing was done`,
      { contractId: contract.id, staffContactId }
    );
  }
  if (staffContactId === contract.contactId) {
    throw new CommandError(
      CommandErrorCode.STAFF_NOT_ALLOWED,
      `contact ${staffContactId} is the freelancer of contract ${contract.id} and cannot act as staff on it; ` +
        "use a staff member's Kontakt id",
      { contractId: contract.id, staffContactId }
    );
  }
  const listed = crm.values.staffContactIds;
  const marked = c.staffMarker ? toBool(row[c.staffMarker], crm) : undefined;
  if ((listed && !listed.includes(staffContactId)) || marked === false) {
    const where = c.staffMarker ? `column ${c.table}.${c.staffMarker}` : 'crm.values.staffContactIds';
    throw new CommandError(
      CommandErrorCode.STAFF_NOT_ALLOWED,
      `contact ${staffContactId} is not marked as staff (${where}); use a staff member's Kontakt id`,
      { contractId: contract.id, staffContactId }
    );
  }
}
