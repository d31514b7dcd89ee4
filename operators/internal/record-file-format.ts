/*
 * The two file formats a staged file sink writes. NDJSON: one JSON document per line, `\n` after
 * each. CSV: RFC 4180 — a header row, CRLF line ends, a field quoted when it holds a comma, a
 * double quote, CR or LF (quotes doubled inside); a missing value is an empty field, an object or
 * array is written as its JSON.
 */

export type RecordFileFormat = 'ndjson' | 'csv';

/** The text of a whole file for `records`. Throws (naming the record's index) for a value JSON cannot write. */
export function formatRecords(format: RecordFileFormat, records: readonly unknown[], columns: readonly string[] | undefined): string {
  return format === 'ndjson' ? formatNdjson(records) : formatCsv(records, columns ?? []);
}

function formatNdjson(records: readonly unknown[]): string {
  let out = '';
  for (let i = 0; i < records.length; i++) {
    const line = jsonOf(records[i], i);
    out += `${line}\n`;
  }
  return out;
}

function formatCsv(records: readonly unknown[], columns: readonly string[]): string {
  let out = `${columns.map(csvField).join(',')}\r\n`;
  for (let i = 0; i < records.length; i++) {
    const record = records[i];
    if (record === null || typeof record !== 'object')
      throw new TypeError(`record ${i} is ${record === null ? 'null' : typeof record}, CSV needs an object with the columns`);
    const row = record as Record<string, unknown>;
    out += `${columns.map((c) => csvField(cellText(row[c], i))).join(',')}\r\n`;
  }
  return out;
}

function cellText(value: unknown, index: number): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value instanceof Date) return value.toISOString();
  return jsonOf(value, index);
}

/** RFC 4180 field: quoted only when needed. */
export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function jsonOf(value: unknown, index: number): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new TypeError(`record ${index} cannot be written as JSON: ${(err as Error).message}`, { cause: err });
  }
  if (text === undefined) throw new TypeError(`record ${index} is ${typeof value}, which JSON cannot write`);
  return text;
}
