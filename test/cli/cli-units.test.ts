/**
 * The CLI's pure parts: CSV id files (real files in a temp folder), the table renderer, the error → exit code mapping
 * and the bounded map. The verbs themselves are tested as a subprocess in cli.e2e.test.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';
import { parseIdList, parsePositiveInt, readContractIdsFromCsv } from '../../cli/arguments';
import { mapBounded } from '../../cli/bounded';
import { classifyError } from '../../cli/classify-error';
import { CommandErrorCode } from '../../commands/errors';
import { CliError, EXIT_CODE, ExitCode } from '../../cli/exit-codes';
import { renderTable } from '../../cli/table';
import { ErrorCode } from '../../domain/errors';
import { KonnektorFailureType } from '../../domain/konnektor-errors';
import { ConfigError } from '../../temporal.config';

describe('contract ids from CSV', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-cli-csv-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const csv = (name: string, text: string): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  };

  test('a German spreadsheet export: BOM, semicolons, a header, the id in the second column, duplicates', () => {
    const file = csv(
      'export.csv',
      '\uFEFFTitel;Honorarvertrag_ID;Status\n"Logopädie; Q1";12;erstellt\nVertretung;7;erstellt\nDoppelt;12;x\n'
    );
    expect(readContractIdsFromCsv(file)).toEqual([12, 7]);
  });

  test('no header: ids in the first column', () => {
    expect(readContractIdsFromCsv(csv('plain.csv', '3,foo\n1,bar\n\n2,baz\n'))).toEqual([3, 1, 2]);
  });

  test('every bad id is named with its line', () => {
    const file = csv('bad.csv', 'id\n1\nzwei\n3\n-4\n');
    expect(() => readContractIdsFromCsv(file)).toThrow(/not a contract id at line 3: "zwei", line 5: "-4"/);
  });

  test('a header without an id column, an empty file and a missing file are usage errors', () => {
    for (const file of [csv('nocol.csv', 'Titel;Status\nA;B\n'), csv('empty.csv', ''), path.join(dir, 'missing.csv')]) {
      const err = (() => {
        try {
          readContractIdsFromCsv(file);
          return undefined;
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(CliError);
      expect((err as CliError).exitCode).toBe(ExitCode.USAGE);
    }
  });

  test('--ids lists', () => {
    expect(parseIdList('1, 2,3 ,2')).toEqual([1, 2, 3]);
    expect(() => parseIdList('1,x')).toThrow('must be a positive decimal integer (1 to 2147483647), not "x"');
    expect(() => parseIdList('1,0')).toThrow('not "0"');
    expect(() => parseIdList('1,0x11')).toThrow('not "0x11"');
    // Counts are not ids: their message must not call them one.
    expect(() => parsePositiveInt('x')).toThrow('expected a positive whole number.');
    expect(() => parsePositiveInt('0')).toThrow(/^expected a positive whole number\.$/);
  });
});

test('renderTable pads by characters (umlauts), cuts long cells, writes booleans the CRM way', () => {
  const table = renderTable(
    [
      { key: 'id', label: 'ID' },
      { key: 'name', label: 'Name' },
      { key: 'ok', label: 'Gültig' },
    ],
    [
      { id: 1, name: 'Özlem Yılmaz', ok: true },
      { id: 22, name: 'x'.repeat(50), ok: null },
    ],
    20
  );
  expect(table.split('\n')).toEqual([
    'ID  Name                  Gültig',
    '--  --------------------  ------',
    '1   Özlem Yılmaz          ja',
    `22  ${'x'.repeat(19)}…`,
  ]);
});

describe('classifyError', () => {
  test('every domain error code has an exit code (exhaustive)', () => {
    for (const code of Object.values(CommandErrorCode)) expect([1, 2, 3, 4, 5, 6]).toContain(EXIT_CODE[code]);
    expect(EXIT_CODE[CommandErrorCode.NO_WORKER]).toBe(ExitCode.UNAVAILABLE);
    expect(EXIT_CODE[ErrorCode.CONTRACT_NOT_FOUND]).toBe(ExitCode.NOT_FOUND);
    expect(EXIT_CODE[ErrorCode.SIGNATURE_NOT_READY]).toBe(ExitCode.RETRY_LATER);
    expect(EXIT_CODE[CommandErrorCode.VALIDATION_FAILED]).toBe(ExitCode.USAGE);
    expect(EXIT_CODE[ErrorCode.CRM_MAPPING_INVALID]).toBe(ExitCode.CONFIG);
  });

  test('an Update validator rejection keeps its ErrorCode and sentence', () => {
    const cause = ApplicationFailure.create({
      type: ErrorCode.WRONG_SIGNER,
      message: 'contact 4 may not sign contract 9',
    });
    const e = classifyError(new WorkflowUpdateFailedError('Workflow Update failed', cause));
    expect(e).toMatchObject({
      exitCode: ExitCode.REJECTED,
      code: 'WRONG_SIGNER',
      message: 'contact 4 may not sign contract 9',
    });
  });

  test('Konnektor failures: needs-a-person → 1, transient → 4, configuration → 5', () => {
    const kf = (type: string, nonRetryable: boolean) =>
      classifyError(ApplicationFailure.create({ type, message: type, nonRetryable }));
    expect(kf(KonnektorFailureType.PIN_BLOCKED, true).exitCode).toBe(ExitCode.REJECTED);
    expect(kf(KonnektorFailureType.KONNEKTOR_BUSY, false).exitCode).toBe(ExitCode.UNAVAILABLE);
    expect(kf(KonnektorFailureType.KONNEKTOR_SERVER_UNTRUSTED, true).exitCode).toBe(ExitCode.CONFIG);
  });

  test('not found, config, database and unknown errors', () => {
    expect(classifyError(new WorkflowNotFoundError('gone', 'honorarvertrag-1', undefined)).exitCode).toBe(
      ExitCode.NOT_FOUND
    );
    expect(classifyError(new ConfigError('bad')).exitCode).toBe(ExitCode.CONFIG);
    expect(classifyError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })).code).toBe(
      'DATABASE_UNAVAILABLE'
    );
    expect(classifyError(new Error('select * from `x` - SQLITE_ERROR: no such table: x')).exitCode).toBe(
      ExitCode.UNAVAILABLE
    );
    expect(classifyError(new TypeError('boom'))).toMatchObject({ exitCode: ExitCode.INTERNAL, code: 'INTERNAL' });
  });
});

test('mapBounded never runs more than `limit` at once and keeps the order', async () => {
  let inFlight = 0;
  let peak = 0;
  const out = await mapBounded([5, 1, 4, 2, 3, 0, 6], 3, async (n) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    await new Promise((r) => setTimeout(r, n * 3));
    inFlight--;
    return n * 10;
  });
  expect(out).toEqual([50, 10, 40, 20, 30, 0, 60]);
  expect(peak).toBe(3);
  await expect(mapBounded([1], 0, async (n) => n)).rejects.toThrow(RangeError);
});
