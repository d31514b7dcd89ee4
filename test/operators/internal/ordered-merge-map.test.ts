import fc from 'fast-check';
import { concat, map, mergeMap, of, Subject, tap, timer } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { orderedMergeMap } from '../../../operators/internal/ordered-merge-map.js';
import { testScheduler } from '../realtime-fixtures.js';

describe('orderedMergeMap', () => {
  it('emits in source order with at most maxInFlight inners running, for any latencies', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(5), fc.nat(20), fc.integer({ min: 0, max: 3 })), { maxLength: 25 }),
        fc.integer({ min: 1, max: 6 }),
        (items, maxInFlight) => {
          const out: string[] = [];
          let running = 0;
          let peak = 0;
          let completed = false;
          testScheduler().run(({ flush }) => {
            // item i arrives at a cumulative gap, takes `latency` frames and emits `count` values
            let t = 0;
            const arrivals = items.map(([gap, latency, count], i) => {
              t += gap;
              return { i, at: t, latency, count };
            });
            const source = concat(...arrivals.map((a, k) => timer(k === 0 ? a.at : a.at - arrivals[k - 1]!.at).pipe(map(() => a))));
            source
              .pipe(
                orderedMergeMap(
                  (a) => {
                    running += 1;
                    peak = Math.max(peak, running);
                    const values = Array.from({ length: a.count }, (_, j) => `${a.i}.${j}`);
                    return timer(a.latency).pipe(
                      mergeMap(() => of(...values)),
                      tap({ complete: () => (running -= 1) }),
                    );
                  },
                  { maxInFlight, maxQueued: 1_000, component: 'test', stage: 'test' },
                ),
              )
              .subscribe({ next: (v) => out.push(v), complete: () => (completed = true) });
            flush();
          });
          const expected = items.flatMap(([, , count], i) => Array.from({ length: count }, (_, j) => `${i}.${j}`));
          expect(out).toEqual(expected);
          expect(peak).toBeLessThanOrEqual(maxInFlight);
          expect(completed).toBe(true);
        },
      ),
      { numRuns: Number(process.env.PROP_RUNS ?? 100) },
    );
  });

  it('does not let a head inner that emits during a flush overtake buffered values', () => {
    const out: number[] = [];
    const first = new Subject<number>();
    const src = new Subject<number>();
    src.pipe(orderedMergeMap((n) => (n === 0 ? first : of(10, 11)), { maxInFlight: 2, maxQueued: 10, component: 't', stage: 't' })).subscribe((v) => out.push(v));
    src.next(0);
    src.next(1); // buffered behind 0
    first.next(1);
    first.complete();
    expect(out).toEqual([1, 10, 11]);
  });
});

describe('orderedMergeMap limits', () => {
  it('with maxQueued 0 accepts values while a slot is free and fails on the first that would wait', () => {
    const src = new Subject<number>();
    const inner = new Subject<number>();
    let failure: unknown;
    const out: number[] = [];
    src.pipe(orderedMergeMap(() => inner, { maxInFlight: 2, maxQueued: 0, component: 'c', stage: 'c' })).subscribe({ next: (v) => out.push(v), error: (e: unknown) => (failure = e) });
    src.next(1);
    src.next(2);
    expect(failure).toBeUndefined();
    src.next(3);
    expect((failure as Error).name).toBe('BufferOverflowError');
  });
});
