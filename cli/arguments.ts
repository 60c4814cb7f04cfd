/**
 * Parsers for command-line values. A malformed CRM id is the contract commands' VALIDATION_FAILED (exit 2), as at the
 * other doors; other malformed values throw commander's InvalidArgumentError (a usage error, exit 2, with commander's
 * "option '--limit <n>' argument 'x' is invalid" sentence).
 */
import fs from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { parse as parseCsv } from 'csv-parse/sync';
import { idFromText } from '../commands/ids';
import { usageError } from './exit-codes';

/** A CRM id, held to the same decimal form as at every door (commands/ids.ts). */
export function parseId(value: string): number {
  return idFromText(value, 'a CRM id');
}

/** A count such as `--concurrency` or `--limit`: a positive whole number. */
export function parsePositiveInt(value: string): number {
  const n = /^[1-9][0-9]*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a positive whole number.');
  return n;
}

export function parseNonNegativeInt(value: string): number {
  const n = /^[0-9]+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a whole number ≥ 0.');
  return n;
}

/** `1,2,3` (spaces and duplicates tolerated; order kept, duplicates dropped). */
export function parseIdList(value: string): number[] {
  const parts = value.split(/[\s,;]+/).filter((p) => p !== '');
  if (parts.length === 0) throw new InvalidArgumentError('expected a list of ids such as 1,2,3.');
  const ids = parts.map((p) => idFromText(p, 'each id of the list'));
  return [...new Set(ids)];
}

/** Column names that hold the contract id in a CSV export, compared case-insensitively. */
const ID_COLUMNS = ['contract_id', 'contractid', 'honorarvertrag_id', 'honorarvertrag-id', 'vertrag_id', 'id'];

/**
 * Contract ids from a CSV file: comma or semicolon separated (a German spreadsheet export uses `;`), with or without a
 * header. With a header the id column is the first of `contract_id`, `honorarvertrag_id`, `id`, … ; without one (the
 * first row is numeric) it is the first column. Every bad value is reported with its line, not just the first.
 */
export function readContractIdsFromCsv(file: string): number[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw usageError(`cannot read CSV file ${file}: ${(err as Error).message}`);
  }
  let rows: string[][];
  try {
    rows = parseCsv(text.replace(/^\uFEFF/, ''), {
      delimiter: [',', ';'],
      skip_empty_lines: true,
      trim: true,
      relax_column_count: true,
    }) as string[][];
  } catch (err) {
    throw usageError(`${file} is not valid CSV: ${(err as Error).message}`);
  }
  const first = rows[0];
  if (!first) throw usageError(`${file} holds no contract ids`);
  const hasHeader = !/^\d+$/.test(first[0] ?? '');
  let column = 0;
  if (hasHeader) {
    const names = first.map((h) => h.toLowerCase());
    const found = ID_COLUMNS.map((c) => names.indexOf(c)).find((i) => i >= 0);
    if (found === undefined) {
      throw usageError(`${file}: no contract id column in the header (expected one of ${ID_COLUMNS.join(', ')})`);
    }
    column = found;
  }
  const ids: number[] = [];
  const bad: string[] = [];
  rows.slice(hasHeader ? 1 : 0).forEach((row, i) => {
    const cell = row[column] ?? '';
    const line = i + (hasHeader ? 2 : 1);
    try {
      ids.push(parseId(cell));
    } catch {
      bad.push(`line ${line}: "${cell}"`);
    }
  });
  if (bad.length > 0)
    throw usageError(`${file}: not a contract id at ${bad.slice(0, 10).join(', ')}${bad.length > 10 ? ', …' : ''}`);
  if (ids.length === 0) throw usageError(`${file} holds no contract ids`);
  return [...new Set(ids)];
}

/** Seconds → milliseconds, for `--timeout`. */
export function parseSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 3600) throw new InvalidArgumentError('expected seconds between 0 and 3600.');
  return n * 1000;
}
