import fc from 'fast-check';
import { catchError, EMPTY, map, merge, NEVER, Observable, of, Subject, take, timer, type OperatorFunction } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { makeEnvelope } from '../../src/envelope/make-envelope.js';
import { BufferOverflowError, InvalidConfigError } from '../../src/errors.js';
import { anyOf } from '../../operators/any-of.js';
import { memoryBatchBuffer } from '../../src/state/batch-buffer.js';
import { batchUntil, type Batch, type BatchTrigger } from '../../operators/batch-until.js';
import { onCount } from '../../operators/on-count.js';
import { onIdle } from '../../operators/on-idle.js';
import { onSubject } from '../../operators/on-subject.js';

const ts = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const summary = <T>(): OperatorFunction<Batch<T>, { id: string; reason: string; items: readonly T[] }> =>
  map((b) => ({ id: b.batchId, reason: b.reason, items: b.items() }));
const env = (subject: string) => makeEnvelope({ subject, data: null, id: subject, now: () => 0 });

describe('batchUntil', () => {
  it('flushes on a count trigger and the remainder on completion', () =>
    ts().run(({ cold, expectObservable }) => {
      expectObservable(cold('abcde|').pipe(batchUntil(onCount(2), { name: 'n' }), summary())).toBe('-x-y-(z|)', {
        x: { id: 'n:1', reason: 'count', items: ['a', 'b'] },
        y: { id: 'n:2', reason: 'count', items: ['c', 'd'] },
        z: { id: 'n:3', reason: 'complete', items: ['e'] },
      });
    }));

  it('flushes when an event arrives on the trigger subject; an empty buffer emits nothing', () =>
    ts().run(({ cold, hot, expectObservable }) => {
      const events = hot('e--e------e', { e: env('ops.end-of-day') });
      expectObservable(cold('-ab--c-|').pipe(batchUntil(onSubject(events), { name: 'eod' }), summary())).toBe('---x---(y|)', {
        x: { id: 'eod:1', reason: 'ops.end-of-day', items: ['a', 'b'] },
        y: { id: 'eod:2', reason: 'complete', items: ['c'] },
      });
    }));

  it('emitEmpty: a trigger on an empty buffer emits an empty batch', () =>
    ts().run(({ cold, hot, expectObservable }) => {
      const events = hot('-e', { e: env('x') });
      expectObservable(cold('---|').pipe(batchUntil(onSubject(events, { reason: 'tick' }), { name: 'e', emitEmpty: true }), summary())).toBe('-x-|', {
        x: { id: 'e:1', reason: 'tick', items: [] },
      });
    }));

  it('anyOf: whichever trigger fires first, with its reason; idle restarts on each value', () =>
    ts().run(({ cold, expectObservable }) => {
      const op = batchUntil<string>(anyOf(onCount(3), onIdle(5)), { name: 'a' });
      expectObservable(cold('abc-d-e 20ms |').pipe(op, summary())).toBe('--x 8ms y 15ms |', {
        x: { id: 'a:1', reason: 'count', items: ['a', 'b', 'c'] },
        y: { id: 'a:2', reason: 'idle', items: ['d', 'e'] },
      });
    }));

  it('flushes at maxItems whatever the trigger', () =>
    ts().run(({ cold, expectObservable }) => {
      expectObservable(
        cold('abc|').pipe(
          batchUntil(() => NEVER, { name: 'm', maxItems: 2 }),
          summary(),
        ),
      ).toBe('-x-(y|)', {
        x: { id: 'm:1', reason: 'max-items', items: ['a', 'b'] },
        y: { id: 'm:2', reason: 'complete', items: ['c'] },
      });
    }));

  it('re-emits batches sealed but not released before, with the same ids', () => {
    const buffer = memoryBatchBuffer<string>();
    const first: Batch<string>[] = [];
    of('a', 'b', 'c')
      .pipe(batchUntil(onCount(2), { name: 'r', buffer }))
      .subscribe((b) => first.push(b));
    expect(first.map((b) => b.batchId)).toEqual(['r:1', 'r:2']);
    first[1]?.release();
    const again: string[] = [];
    EMPTY.pipe(batchUntil(onCount(2), { name: 'r', buffer })).subscribe((b) => again.push(`${b.batchId}/${b.reason}/${b.items().join('')}`));
    expect(again).toEqual(['r:1/recovered/ab']);
  });

  it('errors with BufferOverflowError past maxUnreleasedBatches', () =>
    ts().run(({ cold, expectObservable }) => {
      const op = batchUntil<string>(onCount(1), { name: 'u', maxUnreleasedBatches: 2 });
      const out = cold('abc|').pipe(
        op,
        map((b) => b.batchId),
        catchError((e: unknown) => of(e instanceof BufferOverflowError ? 'overflow' : 'other')),
      );
      expectObservable(out).toBe('xy(z|)', { x: 'u:1', y: 'u:2', z: 'overflow' });
    }));

  it('carries first/last stream sequence', () => {
    const batches: Batch<{ seq: number }>[] = [];
    of({ seq: 7 }, { seq: 9 })
      .pipe(batchUntil(() => NEVER, { name: 's' }))
      .subscribe((b) => batches.push(b));
    expect(batches.map((b) => [b.firstSeq, b.lastSeq, b.count])).toEqual([[7, 9, 2]]);
  });

  describe('reading a batch', () => {
    const oneBatch = (n: number): Batch<number> => {
      let batch: Batch<number> | undefined;
      of(...Array.from({ length: n }, (_, i) => i))
        .pipe(batchUntil(() => NEVER, { name: 'big' }))
        .subscribe((b) => (batch = b));
      if (batch === undefined) throw new Error('no batch');
      return batch;
    };

    it('chunks() pulls arrays of at most size', () => {
      expect([...oneBatch(5).chunks(2)]).toEqual([[0, 1], [2, 3], [4]]);
    });

    it('items() refuses batches above its limit', () => {
      expect(() => oneBatch(5).items(4)).toThrow(BufferOverflowError);
      expect(oneBatch(5).items(5)).toEqual([0, 1, 2, 3, 4]);
    });

    it('processChunks reads the next chunk only after the previous work completed', () => {
      const batch = oneBatch(5);
      const started: number[] = [];
      ts().run(({ cold, expectObservable }) => {
        const out = batch.processChunks(2, (chunk, i) => {
          started.push(i);
          return cold('--(x|)', { x: chunk.join('') });
        });
        expectObservable(out).toBe('--a-b-(c|)', { a: '01', b: '23', c: '4' });
      });
      expect(started).toEqual([0, 1, 2]);
    });

    it('release() empties the batch', () => {
      const batch = oneBatch(3);
      batch.release();
      expect([...batch.chunks(10)]).toEqual([]);
    });
  });

  describe('checklist', () => {
    it('never: emits nothing', () => ts().run(({ expectObservable }) => expectObservable(NEVER.pipe(batchUntil(onCount(1), { name: 'x' }))).toBe('-')));
    it('empty: completes without a batch', () =>
      ts().run(({ expectObservable }) => expectObservable(EMPTY.pipe(batchUntil(onCount(1), { name: 'x' }))).toBe('|')));
    it('source error: forwarded, nothing flushed', () =>
      ts().run(({ cold, expectObservable }) => expectObservable(cold('a-#').pipe(batchUntil(onCount(5), { name: 'x' }))).toBe('--#')));
    it('trigger error: forwarded', () =>
      ts().run(({ cold, expectObservable }) => expectObservable(cold('a---').pipe(batchUntil(() => cold('-#'), { name: 'x' }))).toBe('-#')));
    it('trigger function throws: errors the output', () => {
      const boom = new Error('boom');
      const errors: unknown[] = [];
      of(1)
        .pipe(
          batchUntil(
            () => {
              throw boom;
            },
            { name: 'x' },
          ),
        )
        .subscribe({ error: (e) => errors.push(e) });
      expect(errors).toEqual([boom]);
    });
    it('early unsubscribe: unsubscribes source and trigger', () =>
      ts().run(({ hot, expectObservable, expectSubscriptions }) => {
        const src = hot('-a-b-');
        const trig = hot('-----t');
        expectObservable(src.pipe(batchUntil(() => trig, { name: 'x' })), '^--!').toBe('---');
        expectSubscriptions(src.subscriptions).toBe('^--!');
        expectSubscriptions(trig.subscriptions).toBe('^--!');
      }));
    it('stops a synchronous source when unsubscribed', () => {
      let produced = 0;
      const src = new Observable<number>((sub) => {
        for (let i = 0; i < 100 && !sub.closed; i++) {
          produced++;
          sub.next(i);
        }
        sub.complete();
      });
      const seen: string[] = [];
      src.pipe(batchUntil(onCount(1), { name: 'x' }), take(3)).subscribe((b) => seen.push(b.batchId));
      expect(seen).toEqual(['x:1', 'x:2', 'x:3']);
      expect(produced).toBe(3);
    });
  });

  it('validates its config at creation', () => {
    expect(() => batchUntil(onCount(1), { name: '' })).toThrow(InvalidConfigError);
    expect(() => batchUntil(onCount(1), { name: 'x', maxItems: 0 })).toThrow(/maxItems/);
    expect(() => batchUntil(undefined as unknown as BatchTrigger, { name: 'x' })).toThrow(/trigger/);
    expect(() => onCount(0)).toThrow(/count/);
    expect(() => anyOf()).toThrow(/triggers/);
  });

  it('property: with count and subject triggers, batches hold every value once, in order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant<'v'>('v'), fc.constant<'t'>('t')), { maxLength: 80 }),
        fc.integer({ min: 1, max: 6 }),
        fc.boolean(),
        (steps, count, withCount) => {
          const events = new Subject<ReturnType<typeof env>>();
          const source = new Subject<number>();
          const trigger = withCount ? anyOf(onSubject(events), onCount(count)) : onSubject(events);
          const seen: number[] = [];
          let done = false;
          let n = 0;
          source.pipe(batchUntil(trigger, { name: 'p', maxUnreleasedBatches: 1 })).subscribe({
            next: (b) => {
              expect(b.count).toBeGreaterThan(0);
              if (withCount) expect(b.count).toBeLessThanOrEqual(count);
              for (const chunk of b.chunks(3)) seen.push(...chunk);
              b.release();
            },
            complete: () => (done = true),
          });
          for (const s of steps) {
            if (s === 'v') source.next(n++);
            else events.next(env('t'));
          }
          source.complete();
          expect(done).toBe(true);
          expect(seen).toEqual(Array.from({ length: n }, (_, i) => i));
        },
      ),
      { numRuns: Number(process.env.PROP_RUNS ?? 200) },
    );
  });

  it('property: in virtual time with random arrivals, every value is in exactly one batch', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 10 }), { maxLength: 40 }), fc.integer({ min: 1, max: 5 }), (gaps, idle) => {
        const scheduler = new TestScheduler(() => undefined);
        const seen: number[] = [];
        scheduler.run(() => {
          let at = 0;
          const src = merge(...gaps.map((g, i) => timer((at += g), scheduler).pipe(map(() => i))));
          src.pipe(batchUntil(anyOf(onCount(4), onIdle(idle)), { name: 'v', scheduler })).subscribe((b) => {
            seen.push(...b.items());
            b.release();
          });
        });
        expect(seen).toEqual(gaps.map((_, i) => i));
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 100) },
    );
  });
});
