/**
 * Column helpers shared by both migration sets, so SQLite (dev, tests) and MySQL/MariaDB (production) get equivalent
 * types: millisecond timestamps, large binary content and long text.
 */
import type { Knex } from 'knex';
import { dialectOfDb } from '../connection';

export function isMysql(db: Knex): boolean {
  return dialectOfDb(db) === 'mysql';
}

/** DATETIME(3) on MySQL: without the precision MySQL silently drops the milliseconds the signature hash relies on. */
export function timestamp(table: Knex.CreateTableBuilder, name: string): Knex.ColumnBuilder {
  return table.datetime(name, { precision: 3 });
}

/** LONGBLOB on MySQL (a plain BLOB stops at 64 KiB, smaller than most PDFs); BLOB on SQLite. */
export function largeBinary(db: Knex, table: Knex.CreateTableBuilder, name: string): Knex.ColumnBuilder {
  return isMysql(db) ? table.specificType(name, 'longblob') : table.binary(name);
}

/** MEDIUMTEXT on MySQL (TEXT stops at 64 KiB); TEXT on SQLite. */
export function longText(table: Knex.CreateTableBuilder, name: string): Knex.ColumnBuilder {
  return table.text(name, 'mediumtext');
}

/**
 * Table options for MySQL: utf8mb4 so umlauts in status labels (`gültig`, `zurückgezogen`) and names round-trip.
 * `binary` collation for plugin keys that must compare byte for byte.
 */
export function mysqlTableOptions(db: Knex, table: Knex.CreateTableBuilder, collation: 'unicode' | 'binary'): void {
  if (!isMysql(db)) return;
  table.engine('InnoDB');
  table.charset('utf8mb4');
  table.collate(collation === 'binary' ? 'utf8mb4_bin' : 'utf8mb4_unicode_ci');
}

/** MySQL refuses identifiers over 64 characters, which knex's generated index names over German columns exceed. */
export function indexName(table: string, suffix: string): string {
  return `${table.slice(0, 63 - suffix.length - 1)}_${suffix}`;
}
