import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeOutbox, encodeOutbox, type OutboxEntry } from '../../../src/exactly-once/outbox-codec.js';

const entry = fc.record({
  seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  index: fc.nat({ max: 2 ** 32 - 1 }),
  subject: fc.string({ minLength: 1, maxLength: 300, unit: 'grapheme' }),
  data: fc.uint8Array({ maxLength: 300 }),
  headers: fc.option(fc.dictionary(fc.string({ minLength: 1 }), fc.string(), { minKeys: 1 }), { nil: undefined }),
});

describe('outbox codec', () => {
  it('decodes exactly what it encoded, for any entries (property)', () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 40 }), (entries: OutboxEntry[]) => {
        expect(decodeOutbox(encodeOutbox(entries))).toEqual(entries.map((e) => ({ ...e, data: new Uint8Array(e.data) })));
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 200) },
    );
  });

  it('returns data that does not alias the blob (LMDB may reuse that memory)', () => {
    const blob = encodeOutbox([{ seq: 1, index: 0, subject: 'a.b', data: new Uint8Array([1, 2, 3]) }]);
    const [e] = decodeOutbox(blob);
    blob.fill(0);
    expect([...e!.data]).toEqual([1, 2, 3]);
  });

  it('rejects a blob it did not write', () => {
    expect(() => decodeOutbox(new Uint8Array([9, 0, 0, 0, 0]))).toThrow(/unknown version 9/);
    const good = encodeOutbox([{ seq: 1, index: 0, subject: 'a', data: new Uint8Array([1]) }]);
    expect(() => decodeOutbox(new Uint8Array([...good, 7]))).toThrow(/1 trailing bytes/);
  });
});
