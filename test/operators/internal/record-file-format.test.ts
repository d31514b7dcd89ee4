import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatRecords } from '../../../operators/internal/record-file-format.js';

/** A plain RFC 4180 reader, the model the writer must agree with. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  while (i < text.length) {
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (text[i] === '"' && text[i + 1] === '"') ((field += '"'), (i += 2));
        else if (text[i] === '"') break;
        else field += text[i++]!;
      }
      i++;
    } else if (text[i] === ',') (row.push(field), (field = ''), i++);
    else if (text[i] === '\r' && text[i + 1] === '\n') (row.push(field), rows.push(row), (row = []), (field = ''), (i += 2));
    else field += text[i++]!;
  }
  return rows;
}

describe('record file formats', () => {
  it('CSV: any strings read back as written, one row per record after the header (fast-check)', () => {
    const columns = ['a', 'b,c', 'd"e'];
    fc.assert(
      fc.property(
        fc.array(fc.record({ a: fc.string(), 'b,c': fc.string({ unit: fc.constantFrom('x', ',', '"', '\r', '\n', ' ', 'é') }), 'd"e': fc.integer() })),
        (records) => {
          const rows = parseCsv(formatRecords('csv', records, columns));
          expect(rows).toEqual([columns, ...records.map((r) => [r.a, r['b,c'], String(r['d"e'])])]);
        },
      ),
    );
  });

  it('NDJSON: one JSON document per line, each parses back to its record (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue()), (records) => {
        const lines = formatRecords('ndjson', records, undefined).split('\n');
        expect(lines.pop()).toBe('');
        expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual(records.map((r) => JSON.parse(JSON.stringify(r)) as unknown));
      }),
    );
  });

  it('refuses values JSON cannot write, naming the record', () => {
    expect(() => formatRecords('ndjson', [{ ok: 1 }, () => 1], undefined)).toThrow('record 1 is function, which JSON cannot write');
    expect(() => formatRecords('csv', [null], ['a'])).toThrow('record 0 is null, CSV needs an object with the columns');
  });
});
