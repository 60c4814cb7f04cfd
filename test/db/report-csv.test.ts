/**
 * CSV injection (OWASP): report cells that a spreadsheet would evaluate as a formula come out as text, on the real
 * report of a real database (a contract whose CRM fields hold formulas) and for every dangerous first character.
 */
import { parse } from 'csv-parse/sync';
import { CONTRACT_REPORT_COLUMNS, contractsReport, neutraliseCsvCell, reportCsv } from '../../db/reports';
import { createTestDb, type TestDb } from '../../harness/databases';

describe('neutraliseCsvCell', () => {
  test.each([
    ['=1+1', "'=1+1"],
    ['+491701234567', "'+491701234567"],
    ["-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"],
    ['@SUM(A1:A2)', "'@SUM(A1:A2)"],
    ['\t=1+1', "'\t=1+1"],
    ['\rfoo', "'\rfoo"],
    ['\nfoo', "'\nfoo"],
    ['  =HYPERLINK("http://evil.example")', '\'  =HYPERLINK("http://evil.example")'],
    ['\u00a0@x', "'\u00a0@x"],
    ['＝1+1', "'＝1+1"],
    ['＋1', "'＋1"],
    ['－1', "'－1"],
    ['＠x', "'＠x"],
  ])('%j is neutralised', (input, expected) => {
    expect(neutraliseCsvCell(input)).toBe(expected);
  });

  test.each(['Honorarvertrag 2027', 'a=b', 'Müller-Lüdenscheidt', 'x@example.org', '', "'=already"])(
    '%j stays as it is',
    (input) => {
      expect(neutraliseCsvCell(input)).toBe(input);
    }
  );
});

describe('the contracts report as CSV', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await createTestDb('sqlite');
  });
  afterAll(async () => {
    await t?.destroy();
  });

  test('formula text from the CRM comes out as text; numbers stay numbers', async () => {
    const k = t.config.crm.contracts;
    const c = t.config.crm.contacts;
    const [contactId] = (await t.db(c.table).insert({
      [c.firstName]: "=cmd|' /C calc'!A0",
      [c.lastName]: '@Evil',
      [c.email]: 'evil@example.org',
    })) as number[];
    const [contractId] = (await t.db(k.table).insert({
      [k.contactId]: contactId,
      [k.title]: '=HYPERLINK("http://evil.example","klick")',
      [k.status]: '+erstellt',
    })) as number[];
    const rows = (await contractsReport(t.db, t.config.crm, { contactId }, { limit: 10, offset: 0 })).filter(
      (r) => r.contractId === contractId
    );
    expect(rows).toHaveLength(1);
    const records = parse(reportCsv(CONTRACT_REPORT_COLUMNS, rows), { columns: true }) as Array<Record<string, string>>;
    const record = records[0] ?? {};
    const cells = Object.values(record);
    for (const cell of cells) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
    expect(cells).toContain('\'=HYPERLINK("http://evil.example","klick")');
    expect(cells).toContain("'+erstellt");
    expect(cells).toContain(String(contractId));
  });
});
