import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fnv1a32, partitionOf } from '../../../src/state/partition-of.js';

/** Byte-wise reference: FNV-1a over the UTF-8 encoding. */
function reference(key: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(key)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h >>> 0;
}

describe('fnv1a32', () => {
  it('matches the published FNV-1a 32-bit test vectors', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('hashes the UTF-8 bytes of any string (ASCII fast path agrees with the byte-wise definition)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (key) => fnv1a32(key) === reference(key)),
      { numRuns: Number(process.env.PROP_RUNS ?? 200) },
    );
  });
});

describe('partitionOf', () => {
  it('is stable and within [0, partitions)', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 1, max: 1024 }), (key, n) => {
        const p = partitionOf(key, n);
        return Number.isInteger(p) && p >= 0 && p < n && p === partitionOf(key, n);
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 200) },
    );
  });

  it('pins a few partitions so a changed hash cannot go unnoticed (stored keys depend on it)', () => {
    expect(['sku-1', 'sku-2', 'customer-42', 'é'].map((k) => partitionOf(k, 16))).toMatchInlineSnapshot(`
      [
        12,
        5,
        14,
        1,
      ]
    `);
  });
});
