import fc from 'fast-check';
import { asyncScheduler, concat, EMPTY, map, mergeMap, of, Subject, tap, throwError, timer } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { orderedMergeMap } from '../../../operators/internal/ordered-merge-map.js';
import { SettleLog, slowSink } from '../../helpers/settle-log.js';
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
    src
      .pipe(orderedMergeMap((n) => (n === 0 ? first : of(10, 11)), { maxInFlight: 2, maxQueued: 10, component: 't', stage: 't' }))
      .subscribe((v) => out.push(v));
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
    src
      .pipe(orderedMergeMap(() => inner, { maxInFlight: 2, maxQueued: 0, component: 'c', stage: 'c' }))
      .subscribe({ next: (v) => out.push(v), error: (e: unknown) => (failure = e) });
    src.next(1);
    src.next(2);
    expect(failure).toBeUndefined();
    src.next(3);
    expect((failure as Error).name).toBe('BufferOverflowError');
  });
});

describe('orderedMergeMap settling', () => {
  it('holds each input until its values are out and their effects done, for any latencies and failures', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ gap: fc.nat(4), latency: fc.nat(12), count: fc.integer({ min: 0, max: 3 }), fails: fc.boolean(), ackMs: fc.nat(6) }), {
          maxLength: 20,
        }),
        fc.integer({ min: 1, max: 5 }),
        (items, maxInFlight) => {
          let log!: SettleLog;
          const doneAt = new Map<number, number>(); // input -> when its inner ended
          const ackedAt = new Map<number, number[]>(); // input -> when each of its values' effects completed
          const emitted: string[] = [];
          let completed = false;
          testScheduler().run(({ flush }) => {
            log = new SettleLog(() => asyncScheduler.now());
            const source = concat(...items.map((item, i) => timer(item.gap).pipe(map(() => i))));
            source
              .pipe(
                log.inputs((i) => String(i)),
                orderedMergeMap(
                  (i: number) => {
                    const { latency, count, fails } = items[i]!;
                    const values = Array.from({ length: count }, (_, j) => ({ i, j }));
                    return timer(latency).pipe(
                      mergeMap(() => concat(of(...values), fails ? throwError(() => new Error(`inner ${i} failed`)) : EMPTY)),
                      tap({ complete: () => doneAt.set(i, asyncScheduler.now()), error: () => doneAt.set(i, asyncScheduler.now()) }),
                    );
                  },
                  { maxInFlight, maxQueued: 1_000, component: 'test', stage: 'test' },
                ),
                tap((v) => emitted.push(`${v.i}.${v.j}`)),
                slowSink((v) => timer(items[v.i]!.ackMs).pipe(tap({ complete: () => ackedAt.set(v.i, [...(ackedAt.get(v.i) ?? []), asyncScheduler.now()]) }))),
              )
              .subscribe({ complete: () => (completed = true) });
            flush();
          });
          expect(completed).toBe(true);
          expect(log.held()).toEqual([]);
          expect(log.settledTwice()).toEqual([]);
          items.forEach((item, i) => {
            const settled = log.get(String(i))!;
            expect(settled.as, `input ${i}`).toBe(item.fails ? 'failed' : 'acked');
            if (item.fails) return;
            // Never before its work ended and every effect of its values completed.
            expect(settled.at, `input ${i}`).toBeGreaterThanOrEqual(doneAt.get(i)!);
            for (const at of ackedAt.get(i) ?? []) expect(settled.at, `input ${i}`).toBeGreaterThanOrEqual(at);
            expect(ackedAt.get(i)?.length ?? 0).toBe(item.count);
          });
          // Values of inputs that succeeded all go out, in input order; a failed one's may be partly out.
          const all = items.flatMap((item, i) => Array.from({ length: item.count }, (_, j) => ({ id: `${i}.${j}`, ok: !item.fails })));
          expect(emitted.filter((id) => all.find((v) => v.id === id)!.ok)).toEqual(all.filter((v) => v.ok).map((v) => v.id));
          expect(all.map((v) => v.id).filter((id) => emitted.includes(id))).toEqual(emitted);
        },
      ),
      { numRuns: Number(process.env.PROP_RUNS ?? 100) },
    );
  });

  it('settles an input the moment its values are out when nothing downstream holds it', () =>
    testScheduler().run(({ cold, expectObservable, flush }) => {
      const log = new SettleLog(() => asyncScheduler.now());
      const work: Record<string, string> = { a: '----x|', b: '-y|', c: '--|' };
      const out = cold('abc|').pipe(
        log.inputs(),
        orderedMergeMap((k: string) => cold(work[k]!), { maxInFlight: 3, maxQueued: 10, component: 't', stage: 't' }),
      );
      expectObservable(out).toBe('----x(y|)');
      flush();
      // b's value was ready at 2 but waited for a's; c had none and waited all the same.
      expect(log.summary()).toEqual({ a: 'acked@5', b: 'acked@5', c: 'acked@5' });
    }));

  it('fails only the input whose work failed and goes on; without a settling input the stream fails', () =>
    testScheduler().run(({ cold, expectObservable, flush }) => {
      const log = new SettleLog(() => asyncScheduler.now());
      const work = (k: string) => (k === 'b' ? cold<string>('-#', undefined, new Error('down')) : cold('--v|', { v: k }));
      const limits = { maxInFlight: 2, maxQueued: 10, component: 't', stage: 't' };
      // b's failure frees its slot only when a, ahead of it, is done
      expectObservable(cold('abc|').pipe(log.inputs(), orderedMergeMap(work, limits))).toBe('--a--c|');
      expectObservable(cold('abc|').pipe(orderedMergeMap(work, limits))).toBe('--(a#)', undefined, new Error('down'));
      flush();
      expect(log.summary()).toEqual({ b: 'failed@2', a: 'acked@3', c: 'acked@6' });
    }));

  it('fails the inputs it still holds when unsubscribed, and on overflow', () =>
    testScheduler().run(({ hot, cold, expectObservable, flush }) => {
      const log = new SettleLog(() => asyncScheduler.now());
      const slow = () => cold<string>('-----x|');
      expectObservable(hot('-ab---').pipe(log.inputs(), orderedMergeMap(slow, { maxInFlight: 1, maxQueued: 10, component: 't', stage: 't' })), '^--!').toBe(
        '---',
      );
      const overflow = new SettleLog(() => asyncScheduler.now());
      expectObservable(cold('cde').pipe(overflow.inputs(), orderedMergeMap(slow, { maxInFlight: 1, maxQueued: 1, component: 't', stage: 't' }))).toBe(
        '--#',
        undefined,
        expect.objectContaining({ name: 'BufferOverflowError' }),
      );
      flush();
      expect(log.summary()).toEqual({ a: 'failed@3', b: 'failed@3' });
      expect(log.get('a')!.error).toMatch(/t: stopped before this message was processed/);
      expect(overflow.summary()).toEqual({ c: 'failed@2', d: 'failed@2', e: 'failed@2' });
    }));
});
