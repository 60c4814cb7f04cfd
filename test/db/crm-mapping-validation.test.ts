/**
 * The CRM mapping file is validated strictly: an unknown section or key is an error that names SIGNFLOW_CRM_MAPPING,
 * the file and the key that was probably meant, instead of being ignored while the default name is used.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nearestKey } from '../../db/crm-mapping';
import { ConfigError, loadConfig } from '../../temporal.config';
import { createTestDb, type TestDb } from '../../harness/databases';
import { runCli } from '../cli/run-cli';

describe('CRM mapping validation', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-mapping-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const mappingFile = (name: string, mapping: unknown): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, JSON.stringify(mapping));
    return file;
  };
  const errorOf = (file: string): string => {
    try {
      loadConfig({}, { SIGNFLOW_CRM_MAPPING: file });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error('the mapping was accepted');
  };

  test('a misspelt section names the variable, the file and the section meant', () => {
    const file = mappingFile('section.json', { contract: { table: 'crm_honorarvertrag' } });
    expect(errorOf(file)).toContain(
      `SIGNFLOW_CRM_MAPPING (${file}): unknown key "contract": did you mean "contracts"?`
    );
  });

  test('a misspelt key inside a section, in any case, is named with its nearest valid key', () => {
    const file = mappingFile('key.json', {
      contracts: { table: 'crm_honorarvertrag', stauts: 'vertragsstatus', contactid: 'honorarkraft_id' },
      values: { contractSendableStatus: ['erstellt'] },
    });
    const message = errorOf(file);
    expect(message).toContain('unknown key "contracts.stauts": did you mean "contracts.status"?');
    expect(message).toContain('unknown key "contracts.contactid": did you mean "contracts.contactId"?');
    expect(message).toContain(
      'unknown key "values.contractSendableStatus": did you mean "values.contractSendableStatuses"?'
    );
  });

  test('a key far from every valid one lists the valid keys; empty names and wrong types are refused', () => {
    const message = errorOf(
      mappingFile('far.json', { documents: { zzzqqq: 'x', content: '' }, signatures: { table: 42 } })
    );
    expect(message).toContain('unknown key "documents.zzzqqq"; valid keys of "documents": table, id, title');
    expect(message).toContain('documents.content: must be a non-empty table or column name');
    expect(message).toMatch(/SIGNFLOW_CRM_MAPPING \(.*\): signatures\.table: .*string/);
  });

  test("the README's example mapping is valid", () => {
    const readme = fs.readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
    const json = /## CRM mapping[\s\S]*?```json\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(json).toBeDefined();
    const config = loadConfig({}, { SIGNFLOW_CRM_MAPPING: mappingFile('readme.json', JSON.parse(json as string)) });
    expect(config.crm.contracts.status).toBe('vertragsstatus');
  });

  test('nearestKey suggests only plausible keys', () => {
    expect(nearestKey('tabel', ['table', 'id'])).toBe('table');
    expect(nearestKey('sig', ['signatures', 'contacts'])).toBe('signatures');
    expect(nearestKey('banana', ['table', 'id'])).toBeUndefined();
  });

  describe('through the CLI', () => {
    let t: TestDb;
    beforeAll(async () => {
      t = await createTestDb('sqlite');
    });
    afterAll(() => t?.destroy());

    test('a typo in the mapping is a configuration error (exit 5), not "database unavailable" or "internal"', async () => {
      for (const mapping of [{ contrcts: { status: 'x' } }, { contracts: { stauts: 'x' } }]) {
        const file = mappingFile(`cli-${Object.keys(mapping)[0]}.json`, mapping);
        const run = await runCli(['report', 'contracts', '--json'], {
          SIGNFLOW_DATABASE_URL: t.url,
          SIGNFLOW_CRM_MAPPING: file,
        });
        expect(run.code).toBe(5);
        expect(run.json().error.code).toBe('CONFIG_INVALID');
        expect(run.json().error.message).toContain('SIGNFLOW_CRM_MAPPING');
        expect(run.json().error.message).toContain('did you mean');
      }
    });
  });
});
