/**
 * Plain-text tables for people (the reports, bulk results). Scripts use `--json`; this is for reading in a terminal, so
 * long cells are cut rather than wrapped.
 */
export interface TableColumn<Row> {
  key: keyof Row & string;
  label: string;
}

/** Booleans the CRM way; empty for null. */
export function formatCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'boolean') return value ? 'ja' : 'nein';
  if (value instanceof Date) return value.toISOString();
  return String(value).replace(/\s+/g, ' ');
}

function cut(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

const width = (s: string): number => [...s].length;
const pad = (s: string, w: number): string => s + ' '.repeat(Math.max(0, w - width(s)));

/** Columns separated by two spaces, a dashed rule under the header. */
export function renderTable<Row>(columns: readonly TableColumn<Row>[], rows: readonly Row[], maxCell = 40): string {
  const header = columns.map((c) => cut(c.label, maxCell));
  const body = rows.map((row) => columns.map((c) => cut(formatCell(row[c.key]), maxCell)));
  const widths = header.map((h, i) => Math.max(width(h), ...body.map((cells) => width(cells[i] ?? ''))));
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => pad(cell, widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
