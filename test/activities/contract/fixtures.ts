/**
 * Shared parts of the contract activity tests: fresh contracts per test (the seeded ones are shared by a file), table
 * snapshots for "nothing changed" assertions, PNG builders and a matcher for non-retryable failures.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type { Knex } from 'knex';
import { PNG } from 'pngjs';
import type { CrmMapping } from '../../../db/crm-mapping';
import type { ContractRef } from '../../../activities/types';
import { contractWorkflowId } from '../../../workflows/definitions';
import type { ErrorCode } from '../../../domain/errors';

export interface FreshContract {
  ref: ContractRef;
  contractId: number;
  contactId: number;
  email: string;
  firstName: string;
  lastName: string;
}

export async function insertFreshContract(
  db: Knex,
  crm: CrmMapping,
  options: { status?: string; email?: string | null; contactId?: number; feeCents?: number | null } = {}
): Promise<FreshContract> {
  const k = crm.contacts;
  const tag = randomBytes(3).toString('hex');
  const firstName = `Lena-${tag}`;
  const lastName = 'Größer';
  const email = options.email === undefined ? `lena.${tag}@example.org` : options.email;
  let contactId = options.contactId;
  if (contactId === undefined) {
    const [id] = await db(k.table).insert({ [k.firstName]: firstName, [k.lastName]: lastName, [k.email]: email });
    contactId = Number(id);
  }
  const c = crm.contracts;
  const [contractId] = await db(c.table).insert({
    [c.contactId]: contactId,
    [c.title]: `Honorarvertrag Logopädie ${tag}`,
    [c.status]: options.status ?? crm.values.contractSendableStatuses[0],
    [c.lastStatusChange]: new Date('2026-10-01T08:00:00.000Z'),
    [c.confirmedByFreelancer]: crm.values.no,
    [c.start]: '2027-01-01',
    [c.end]: '2027-06-30',
    [c.feeCents]: options.feeCents === undefined ? 123456 : options.feeCents,
    [c.description]: 'Therapie für Kinder & Jugendliche <Gruppe „Sonne“>',
  });
  const id = Number(contractId);
  return {
    ref: { contractId: id, workflowId: contractWorkflowId(id) },
    contractId: id,
    contactId,
    email: email ?? '',
    firstName,
    lastName,
  };
}

/** Every row of every table, ordered by id; binary columns as SHA-256 so that diffs stay readable. */
export async function snapshotTables(db: Knex, crm: CrmMapping): Promise<Record<string, unknown[]>> {
  const tables: Array<[string, string]> = [
    [crm.contacts.table, crm.contacts.id],
    [crm.contracts.table, crm.contracts.id],
    [crm.documents.table, crm.documents.id],
    [crm.signatures.table, crm.signatures.id],
    ['signflow_requests', 'id'],
    ['signflow_mails', 'id'],
    ['signflow_audit_events', 'id'],
  ];
  const out: Record<string, unknown[]> = {};
  for (const [table, id] of tables) {
    const rows = (await db(table).orderBy(id)) as Record<string, unknown>[];
    out[table] = rows.map((row) =>
      Object.fromEntries(
        Object.entries(row).map(([k, v]) => [
          k,
          Buffer.isBuffer(v) ? `sha256:${createHash('sha256').update(v).digest('hex')}` : v,
        ])
      )
    );
  }
  return out;
}

export async function countRows(db: Knex, table: string, where: Record<string, unknown> = {}): Promise<number> {
  const row = (await db(table).where(where).count({ n: '*' }).first()) as { n: number | string } | undefined;
  return Number(row?.n ?? 0);
}

/** A PNG of one colour; white (255) by default, the seed's "all-white image is valid" case. */
export function pngBase64(width = 240, height = 80, shade = 255): string {
  const png = new PNG({ width, height });
  png.data.fill(shade);
  for (let i = 3; i < png.data.length; i += 4) png.data[i] = 255;
  return PNG.sync.write(png).toString('base64');
}

/** A PNG with a diagonal stroke, so two drawn signatures differ. */
export function strokePngBase64(): string {
  const png = new PNG({ width: 120, height: 40 });
  png.data.fill(255);
  for (let x = 0; x < 120; x++) {
    const y = Math.floor((x * 39) / 119);
    const i = (y * 120 + x) * 4;
    png.data[i] = png.data[i + 1] = png.data[i + 2] = 0;
  }
  return PNG.sync.write(png).toString('base64');
}

/**
 * Awaits a failure that must be a non-retryable ApplicationFailure of `type`, naming the contract by id and none of
 * `personalData` (names, e-mail addresses).
 */
export async function expectRejected(
  promise: Promise<unknown>,
  type: ErrorCode,
  personalData: string[] = []
): Promise<ApplicationFailure> {
  const err = await promise.then(
    (value) => {
      throw new Error(`expected ${type}, got a result: ${JSON.stringify(value)}`);
    },
    (e: unknown) => e
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  const failure = err as ApplicationFailure;
  expect({ type: failure.type, nonRetryable: failure.nonRetryable }).toEqual({ type, nonRetryable: true });
  for (const secret of personalData.filter(Boolean)) {
    expect(failure.message).not.toContain(secret);
    expect(JSON.stringify(failure.details ?? [])).not.toContain(secret);
  }
  return failure;
}
