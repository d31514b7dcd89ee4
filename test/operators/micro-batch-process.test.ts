import fc from 'fast-check';
import { catchError, EMPTY, map, merge, NEVER, Observable, of, take, timer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { BufferOverflowError, InvalidConfigError } from '../../src/errors.js';
import { microBatchProcess } from '../../operators/micro-batch-process.js';

const ts = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('microBatchProcess', () => {
  it('processes one batch at a time, in order, and completes after the last', () =>
    ts().run(({ hot, cold, expectObservable }) => {
      const op = microBatchProcess<string, string>({
        maxCount: 2,
        maxWaitMs: 100,
        maxBufferedCount: 10,
        process: (b) => cold('---(x|)', { x: b.join('') }),
      });
      // [a,b] cut at 3 → done at 6; [c,d] cut at 7 → done at 10; source completes at 9.
      expectObservable(hot('-a-b-c-d-|').pipe(op)).toBe('------x---(y|)', { x: 'ab', y: 'cd' });
    }));

  it('queues batches cut while one is in progress', () =>
    ts().run(({ cold, expectObservable }) => {
      const op = microBatchProcess<string, string>({
        maxCount: 1,
        maxWaitMs: 100,
        maxBufferedCount: 10,
        process: (b) => cold('----(x|)', { x: b.join('') }),
      });
      expectObservable(cold('abc|').pipe(op)).toBe('----a---b---(c|)', { a: 'a', b: 'b', c: 'c' });
    }));

  it('errors with BufferOverflowError when more than maxBufferedCount values wait', () =>
    ts().run(({ cold, expectObservable }) => {
      const op = microBatchProcess<string, string>({
        maxCount: 1,
        maxWaitMs: 100,
        maxBufferedCount: 2,
        process: () => cold('------|'),
      });
      const failure = cold('abcd|').pipe(op, catchError((e: unknown) => of(e instanceof BufferOverflowError ? e.limit : e)));
      expectObservable(failure).toBe('---(e|)', { e: 2 });
    }));

  it('pauses a pausable source at pauseAtCount and resumes when below', () => {
    const calls: string[] = [];
    const scheduler = new TestScheduler((a, e) => expect(a).toEqual(e));
    scheduler.run(({ cold, expectObservable }) => {
      const op = microBatchProcess<string, string>({
        maxCount: 1,
        maxWaitMs: 100,
        maxBufferedCount: 4,
        pauseAtCount: 2,
        pauseControl: { pause: () => calls.push(`pause@${scheduler.now()}`), resume: () => calls.push(`resume@${scheduler.now()}`) },
        process: (b) => cold('--(x|)', { x: b.join('') }),
      });
      expectObservable(cold('abc|').pipe(op)).toBe('--a-b-(c|)', { a: 'a', b: 'b', c: 'c' });
    });
    // a starts at 0; b, c wait (2 held → pause at 2); a done at 2 → b starts, 1 held → resume.
    expect(calls).toEqual(['pause@2', 'resume@2']);
  });

  describe('checklist', () => {
    const cfg = { maxCount: 2, maxWaitMs: 10, maxBufferedCount: 4, process: (b: number[]) => of(b.length) };
    it('never: emits nothing', () =>
      ts().run(({ expectObservable }) => expectObservable(NEVER.pipe(microBatchProcess(cfg))).toBe('-')));
    it('empty: completes', () => ts().run(({ expectObservable }) => expectObservable(EMPTY.pipe(microBatchProcess(cfg))).toBe('|')));
    it('one value: processed on completion', () =>
      ts().run(({ expectObservable }) => expectObservable(of(7).pipe(microBatchProcess(cfg))).toBe('(x|)', { x: 1 })));
    it('source error: forwarded at once', () =>
      ts().run(({ cold, expectObservable }) => expectObservable(cold('a-#', { a: 1 }).pipe(microBatchProcess(cfg))).toBe('--#')));
    it('early unsubscribe: unsubscribes the work in progress', () =>
      ts().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
        const work = cold('-----x|');
        const op = microBatchProcess<string, string>({ maxCount: 1, maxWaitMs: 10, maxBufferedCount: 4, process: () => work });
        expectObservable(hot('a----').pipe(op), '^--!').toBe('---');
        expectSubscriptions(work.subscriptions).toBe('^--!');
      }));
    it('process throws: errors the output', () =>
      ts().run(({ cold, expectObservable }) => {
        const boom = new Error('boom');
        const op = microBatchProcess<string, string>({ maxCount: 1, maxWaitMs: 10, maxBufferedCount: 4, process: () => { throw boom; } });
        expectObservable(cold('a|').pipe(op)).toBe('#', undefined, boom);
      }));
    it('process errors: errors the output', () =>
      ts().run(({ cold, expectObservable }) => {
        const op = microBatchProcess<string, string>({ maxCount: 1, maxWaitMs: 10, maxBufferedCount: 4, process: () => cold('-#') });
        expectObservable(cold('a|').pipe(op)).toBe('-#');
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
      const seen: number[] = [];
      src.pipe(microBatchProcess({ ...cfg, maxCount: 1, process: (b) => of(b[0] ?? -1) }), take(3)).subscribe((v) => seen.push(v));
      expect(seen).toEqual([0, 1, 2]);
      expect(produced).toBe(3);
    });
  });

  it('validates its config at creation', () => {
    expect(() => microBatchProcess({ ...{ maxCount: 5, maxWaitMs: 1, process: () => EMPTY }, maxBufferedCount: 4 })).toThrow(InvalidConfigError);
    expect(() => microBatchProcess({ maxCount: 5, maxWaitMs: 1, maxBufferedCount: 5, process: undefined as never })).toThrow(/process/);
    expect(() => microBatchProcess({ maxCount: 5, maxWaitMs: 1, maxBufferedCount: 5, pauseAtCount: 6, process: () => EMPTY })).toThrow(/pauseAtCount/);
  });

  it('property: results cover every input once, in order, whatever the work durations', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 40 }),
        fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 10 }),
        fc.integer({ min: 1, max: 5 }),
        (gaps, durations, maxCount) => {
          const scheduler = new TestScheduler(() => undefined);
          const out: number[][] = [];
          let done = false;
          let failed: unknown;
          scheduler.run(() => {
            let at = 0;
            const times = gaps.map((g) => (at += g));
            const src = merge(...times.map((t, i) => timer(t, scheduler).pipe(map(() => i))));
            let n = 0;
            src
              .pipe(
                microBatchProcess<number, number[]>({
                  maxCount,
                  maxWaitMs: 15,
                  maxBufferedCount: 1000,
                  scheduler,
                  process: (b) => timer(durations[n++ % durations.length] ?? 0, scheduler).pipe(map(() => b)),
                }),
              )
              .subscribe({ next: (b) => out.push(b), complete: () => (done = true), error: (e) => (failed = e) });
          });
          expect(failed).toBeUndefined();
          expect(done).toBe(true);
          expect(out.flat()).toEqual(gaps.map((_, i) => i));
          for (const b of out) expect(b.length).toBeLessThanOrEqual(maxCount);
        },
      ),
      { numRuns: Number(process.env.PROP_RUNS ?? 100) },
    );
  });
});
