import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NOT_WRITTEN } from '../../../src/exactly-once/batch-txn.js';
import { StateCache } from '../../../src/exactly-once/state-cache.js';

describe('StateCache', () => {
  it('tells a miss from a cached absent value', () => {
    const c = new StateCache(10);
    expect(c.get('n', 'a')).toBe(NOT_WRITTEN);
    c.set('n', 'a', undefined);
    expect(c.get('n', 'a')).toBeUndefined();
  });

  it('never holds more than its bound and only ever returns the last value set (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 5 }),
        fc.array(fc.tuple(fc.constantFrom('x', 'y'), fc.constantFrom('a', 'b', 'c', 'd'), fc.integer()), { maxLength: 60 }),
        (max, ops) => {
          const c = new StateCache(max);
          const last = new Map<string, number>();
          for (const [ns, key, v] of ops) {
            c.set(ns, key, v);
            last.set(`${ns}/${key}`, v);
            let held = 0;
            for (const n of ['x', 'y'])
              for (const k of ['a', 'b', 'c', 'd']) {
                const got = c.get(n, k);
                if (got === NOT_WRITTEN) continue;
                held += 1;
                expect(got).toBe(last.get(`${n}/${k}`));
              }
            expect(held).toBeLessThanOrEqual(max);
          }
        },
      ),
      { numRuns: Number(process.env.PROP_RUNS ?? 200) },
    );
  });
});
