/**
 * The two migration sets and the seed, on real SQLite and MariaDB: idempotent, every column the outer contract names,
 * umlauts and 4-byte characters, millisecond timestamps, large binaries, unique keys; and the CLI.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CRM_MIGRATIONS_TABLE, migrateCrm, migrateSignflow, SIGNFLOW_MIGRATIONS_TABLE } from '../../db/migrate';
import { seedDemo } from '../../db/seed';
import { readContract, toDate } from '../../db/crm-repository';
import { createTestDb, testDatabases, type TestDb } from '../../harness/databases';

const run = promisify(execFile);

/**
 * The message of a rejected query. (Not `rejects.toThrow`: jest sometimes fails to recognise driver errors created
 * outside its sandbox realm as errors and reports "did not throw".)
 */
async function failureOf(query: PromiseLike<unknown>): Promise<string> {
  try {
    await query;
  } catch (err) {
    return String((err as { message?: unknown }).message ?? err);
  }
  return 'no failure';
}

describe.each(testDatabases())('migrations on $name', ({ name }) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await createTestDb(name);
  });
  afterAll(async () => {
    await t?.destroy();
  });

  test('a second run applies nothing, and each set has its own migration table', async () => {
    expect(await migrateCrm(t.db, t.config.crm)).toEqual([]);
    expect(await migrateSignflow(t.db)).toEqual([]);
    expect((await t.db(CRM_MIGRATIONS_TABLE).select('name')).map((r: { name: string }) => r.name)).toEqual([
      '20260101000000_create_crm_tables',
    ]);
    // Other parts of the plugin add their own migrations to this set; the tables' first one is ours.
    const applied = (await t.db(SIGNFLOW_MIGRATIONS_TABLE).select('name').orderBy('id')).map(
      (r: { name: string }) => r.name
    );
    expect(applied[0]).toBe('20260101000000_create_signflow_tables');
    expect(await t.db.schema.hasTable('signflow_requests')).toBe(true);
    expect(await t.db.schema.hasTable('kontakte')).toBe(true);
  });

  test.each([
    ['kontakte', ['id', 'vorname', 'nachname', 'email']],
    [
      'honorarvertraege',
      [
        'id',
        'kontakt_id',
        'titel',
        'status',
        'letzte_statusaenderung',
        'bestaetigt_durch_honorarkraft',
        'bestaetigt_am',
        'bestaetigt_durch',
        'beginn',
        'ende',
        'honorar_cent',
        'beschreibung',
      ],
    ],
    [
      'dokumente',
      [
        'id',
        'titel',
        'vorlagenart',
        'mime_type',
        'inhalt',
        'md5',
        'sha256',
        'verknuepftes_objekt_typ',
        'verknuepftes_objekt_id',
        'erstellt_am',
      ],
    ],
    [
      'unterschriften',
      [
        'id',
        'status',
        'kontakt_id',
        'dokument_id',
        'verknuepftes_objekt_typ',
        'verknuepftes_objekt_id',
        'unterschrift_per_authentifiziertem_klick',
        'unterschriftenbild',
        'benutzer_id',
        'md5_hash',
        'unterschrieben_am',
      ],
    ],
    [
      'signflow_requests',
      [
        'id',
        'workflow_id',
        'contract_id',
        'contact_id',
        'document_id',
        'signature_id',
        'document_md5',
        'document_sha256',
        'html',
        'created_at',
      ],
    ],
    [
      'signflow_mails',
      [
        'id',
        'mail_key',
        'workflow_id',
        'contract_id',
        'kind',
        'sequence',
        'recipient',
        'subject',
        'message_id',
        'status',
        'created_at',
        'sent_at',
      ],
    ],
    ['signflow_audit_events', ['id', 'workflow_id', 'contract_id', 'event', 'detail', 'at']],
  ])('%s has exactly the agreed columns', async (table, columns) => {
    expect(Object.keys(await t.db(table).columnInfo()).sort()).toEqual([...columns].sort());
  });

  test('umlaut status labels and 4-byte characters round-trip and match in WHERE', async () => {
    const labels = ['gültig', 'zurückgezogen', 'in Durchführung', 'ausstehend', 'abgelaufen'];
    const ids: number[] = [];
    for (const status of labels) {
      const [id] = await t.db('unterschriften').insert({ status, kontakt_id: 1, dokument_id: 1 });
      ids.push(Number(id));
    }
    const rows = await t.db('unterschriften').whereIn('id', ids).orderBy('id');
    expect(rows.map((r: { status: string }) => r.status)).toEqual(labels);
    expect(await t.db('unterschriften').whereIn('id', ids).where('status', 'gültig').count({ n: '*' })).toEqual([
      { n: 1 },
    ]);
    const [contactId] = await t.db('kontakte').insert({ vorname: 'Zoë 😀', nachname: 'Çelik-Straße', email: null });
    expect(await t.db('kontakte').where('id', contactId).first()).toMatchObject({
      vorname: 'Zoë 😀',
      nachname: 'Çelik-Straße',
    });
  });

  test('timestamps keep their milliseconds', async () => {
    const at = new Date('2026-11-23T17:30:00.987Z');
    const [id] = await t.db('honorarvertraege').insert({
      kontakt_id: 1,
      titel: 'ms',
      status: 'erstellt',
      letzte_statusaenderung: at,
      bestaetigt_am: at,
    });
    expect(await readContract(t.db, t.config.crm, Number(id))).toMatchObject({ lastStatusChange: at, confirmedAt: at });
    await t.db('signflow_mails').insert({
      mail_key: 'ms:invitation',
      workflow_id: 'ms',
      contract_id: Number(id),
      kind: 'invitation',
      recipient: 'a@example.org',
      subject: 'Betreff mit Ümlaut',
      status: 'sending',
      created_at: at,
      sent_at: at,
    });
    const mail = await t.db('signflow_mails').where('mail_key', 'ms:invitation').first();
    expect(toDate(mail.sent_at)?.toISOString()).toBe(at.toISOString());
    expect(mail.subject).toBe('Betreff mit Ümlaut');
  });

  test('document content above 64 KiB (5 MiB) and HTML above 64 KiB survive', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    const [id] = await t.db('dokumente').insert({
      titel: 'groß',
      vorlagenart: 'Vertrag',
      mime_type: 'application/pdf',
      inhalt: big,
      erstellt_am: new Date(),
    });
    const row = await t.db('dokumente').where('id', id).first();
    expect(Buffer.isBuffer(row.inhalt)).toBe(true);
    expect(row.inhalt.equals(big)).toBe(true);

    const html = `<p>${'ä'.repeat(100_000)}</p>`;
    await t.db('signflow_requests').insert({
      workflow_id: 'big-html',
      contract_id: 1,
      contact_id: 1,
      document_id: Number(id),
      signature_id: 1,
      document_md5: '0'.repeat(32),
      document_sha256: '0'.repeat(64),
      html,
      created_at: new Date(),
    });
    expect((await t.db('signflow_requests').where('workflow_id', 'big-html').first()).html).toBe(html);
  });

  test('workflow_id and mail_key are unique', async () => {
    const request = {
      workflow_id: 'honorarvertrag-unique',
      contract_id: 1,
      contact_id: 1,
      document_id: 1,
      signature_id: 1,
      document_md5: '0'.repeat(32),
      document_sha256: '0'.repeat(64),
      html: '',
      created_at: new Date(),
    };
    await t.db('signflow_requests').insert(request);
    expect(await failureOf(t.db('signflow_requests').insert(request))).toMatch(/unique|duplicate/i);
    const mail = {
      mail_key: 'honorarvertrag-unique:invitation',
      workflow_id: 'honorarvertrag-unique',
      contract_id: 1,
      kind: 'invitation',
      recipient: 'a@example.org',
      subject: 's',
      status: 'sending',
      created_at: new Date(),
    };
    await t.db('signflow_mails').insert(mail);
    expect(await failureOf(t.db('signflow_mails').insert(mail))).toMatch(/unique|duplicate/i);
    // Byte-exact keys on MySQL (binary collation): case differences are different keys.
    await t.db('signflow_mails').insert({ ...mail, mail_key: 'HONORARVERTRAG-unique:invitation' });
  });

  test('the seed is idempotent and holds what the demo and the tests need', async () => {
    const counts = async () => ({
      contacts: await t.db('kontakte').count({ n: '*' }),
      contracts: await t.db('honorarvertraege').count({ n: '*' }),
    });
    const before = await counts();
    const again = await seedDemo(t.db, t.config.crm);
    expect(again).toEqual(t.seed);
    expect(await counts()).toEqual(before);

    expect(t.seed.contactIds).toHaveLength(3);
    expect(t.seed.contractIds.length).toBeGreaterThanOrEqual(3);
    const contacts = await t.db('kontakte').whereIn('id', [...t.seed.contactIds, t.seed.staffContactId]);
    for (const c of contacts) expect(c.email).toMatch(/^[a-z.]+@example\.org$/);
    const invalid = await t.db('kontakte').where('id', t.seed.invalidEmailContactId).first();
    expect(invalid.email).not.toContain('@');
    const sendable = await t.db('honorarvertraege').whereIn('id', t.seed.contractIds);
    expect(sendable.map((c: { status: string }) => c.status)).toEqual(t.seed.contractIds.map(() => 'erstellt'));
    expect((await readContract(t.db, t.config.crm, t.seed.inProgressContractId))?.status).toBe('in Durchführung');
    expect((await readContract(t.db, t.config.crm, t.seed.invalidEmailContractId))?.contactId).toBe(
      t.seed.invalidEmailContactId
    );
  });
});

describe('npx tsx db/migrate.ts', () => {
  const root = path.resolve(__dirname, '../..');
  const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-migrate-cli-'));
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('--seed migrates and seeds a SQLite file; a second run changes nothing', async () => {
    const env = { ...process.env, SIGNFLOW_DATABASE_URL: path.join(dir, 'crm.sqlite'), SIGNFLOW_CRM_MAPPING: '' };
    const first = await run(tsx, ['db/migrate.ts', '--seed'], { cwd: root, env, timeout: 60_000 });
    expect(first.stdout).toContain('applied: 20260101000000_create_crm_tables, 20260101000000_create_signflow_tables');
    expect(first.stdout).toMatch(/demo data: contacts 1, 2, 3, staff 4, sendable contracts 1, 2, 3, 4/);
    const second = await run(tsx, ['db/migrate.ts', '--seed'], { cwd: root, env, timeout: 60_000 });
    expect(second.stdout).toContain('database already up to date');
    expect(second.stdout).toMatch(/demo data: contacts 1, 2, 3, staff 4, sendable contracts 1, 2, 3, 4/);
  });

  test('an unknown argument fails with the usage', async () => {
    const env = { ...process.env, SIGNFLOW_DATABASE_URL: path.join(dir, 'other.sqlite') };
    await expect(run(tsx, ['db/migrate.ts', '--drop'], { cwd: root, env, timeout: 60_000 })).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('usage: npx tsx db/migrate.ts [--crm] [--seed]'),
    });
    expect(fs.existsSync(path.join(dir, 'other.sqlite'))).toBe(false);
  });
});
