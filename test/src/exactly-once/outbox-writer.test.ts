import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeOutbox, type OutboxEntry } from '../../../src/exactly-once/outbox-codec.js';
import { OutboxWriter } from '../../../src/exactly-once/outbox-writer.js';

const entry = fc.record({
  seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  index: fc.nat({ max: 2 ** 32 - 1 }),
  subject: fc.string({ minLength: 1, maxLength: 300, unit: 'grapheme' }),
  data: fc.uint8Array({ maxLength: 20_000 }),
  headers: fc.option(fc.dictionary(fc.string({ minLength: 1 }), fc.string(), { minKeys: 0, maxKeys: 3 }), { nil: undefined }),
});

describe('OutboxWriter', () => {
  it('writes the same bytes as encodeOutbox, growing its buffer as needed (property)', () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 30 }), (entries: OutboxEntry[]) => {
        const w = new OutboxWriter();
        for (const e of entries) w.add(e.seq, e.index, e.subject, e.data, e.headers);
        expect(w.count).toBe(entries.length);
        // An empty header record is written as "no headers", as encodeOutbox does.
        expect(Buffer.from(w.finish()).equals(Buffer.from(encodeOutbox(entries)))).toBe(true);
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 100) },
    );
  });
});
