import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeOutbox, encodeOutbox, type OutboxEntry } from '../../../src/exactly-once/outbox-codec.js';
import { OutboxReader } from '../../../src/exactly-once/outbox-reader.js';

const entry = fc.record({
  seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  index: fc.nat({ max: 2 ** 32 - 1 }),
  subject: fc.string({ minLength: 1, maxLength: 300, unit: 'grapheme' }),
  data: fc.uint8Array({ maxLength: 300 }),
  headers: fc.option(fc.dictionary(fc.string({ minLength: 1 }), fc.string(), { minKeys: 1 }), { nil: undefined }),
});

describe('OutboxReader', () => {
  it('reads the entries decodeOutbox decodes, in order (property)', () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 40 }), (entries: OutboxEntry[]) => {
        const blob = encodeOutbox(entries);
        const r = new OutboxReader(blob);
        const read: OutboxEntry[] = [];
        while (r.next()) read.push({ seq: r.seq, index: r.index, subject: r.subject, data: new Uint8Array(r.data), headers: r.headers });
        expect(r.remaining).toBe(0);
        expect(read).toEqual(decodeOutbox(blob));
        const m = new OutboxReader(blob, 't.e.');
        const messages = [];
        for (let at = m.nextAt(); at >= 0; at = m.nextAt()) {
          const x = m.messageAt(at);
          messages.push({ subject: x.subject, data: new Uint8Array(x.data), headers: x.headers, msgId: x.msgId });
        }
        expect(messages).toEqual(read.map((e) => ({ subject: e.subject, data: e.data, headers: e.headers, msgId: `t.e.${e.seq}.${e.index}` })));
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 200) },
    );
  });

  it('rejects a blob of another version', () => {
    expect(() => new OutboxReader(new Uint8Array([9, 0, 0, 0, 0]))).toThrow(/unknown version 9/);
  });
});
