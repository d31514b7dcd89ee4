import fc from 'fast-check';
import { catchError, EMPTY, map, merge, NEVER, Observable, of, Subject, take, throwError, timer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { BufferOverflowError, InvalidConfigError } from '../../src/errors.js';
import { microBatchProcess, type BatchInfo } from '../../operators/micro-batch-process.js';
import { holdCurrent } from '../../src/settle/settle-scope.js';
import { holdingSink, playSettleActions, settleActionArb, settling, type RecordedPublishes, type Settled } from './settle-fixtures.js';

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
      const failure = cold('abcd|').pipe(
        op,
        catchError((e: unknown) => of(e instanceof BufferOverflowError ? e.limit : e)),
      );
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
    it('never: emits nothing', () => ts().run(({ expectObservable }) => expectObservable(NEVER.pipe(microBatchProcess(cfg))).toBe('-')));
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
        const op = microBatchProcess<string, string>({
          maxCount: 1,
          maxWaitMs: 10,
          maxBufferedCount: 4,
          process: () => {
            throw boom;
          },
        });
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

  describe("settlement: an input settles once its batch was processed and the results' effects are complete", () => {
    it('holds the members through process and the downstream publish of its results', () => {
      const log: Settled[] = [];
      const scheduler = new TestScheduler(() => undefined);
      scheduler.run(({ cold }) => {
        const op = microBatchProcess<string, string>({
          maxCount: 2,
          maxWaitMs: 100,
          maxBufferedCount: 2,
          scheduler,
          process: (b) => cold('---(x|)', { x: b.join('') }),
        });
        // [a,b] cut at 1, processed 1..4; its result is published 4..6. [c] cut at 100 (wait).
        cold('ab-c 200ms |').pipe(settling(scheduler, log), op, holdingSink(scheduler, 2)).subscribe();
      });
      expect(log.map((l) => `${l.value}@${l.at}:${l.ok}`)).toEqual(['a@6:true', 'b@6:true', 'c@108:true']);
    });

    it('a failing process fails its members (redelivered) and the stream goes on', () => {
      const log: Settled[] = [];
      const out: string[] = [];
      let error: unknown;
      const scheduler = new TestScheduler(() => undefined);
      scheduler.run(({ cold }) => {
        const op = microBatchProcess<string, string>({
          maxCount: 2,
          maxWaitMs: 100,
          maxBufferedCount: 2,
          scheduler,
          process: (b) => (b.includes('a') ? cold('--#') : b.includes('c') ? throwError(() => new Error('sync')) : cold('-(x|)', { x: b.join('') })),
        });
        cold('abcdef|')
          .pipe(settling(scheduler, log), op)
          .subscribe({ next: (r) => out.push(r), error: (e) => (error = e) });
      });
      expect(error).toBeUndefined();
      expect(out).toEqual(['ef']);
      expect(log.map((l) => `${l.value}@${l.at}:${l.ok}`)).toEqual(['a@3:false', 'b@3:false', 'c@3:false', 'd@3:false', 'e@6:true', 'f@6:true']);
    });

    it("settling inputs never overflow maxBufferedCount: the source's maxUnsettled bounds them", () => {
      const log: Settled[] = [];
      const out: string[] = [];
      let error: unknown;
      const scheduler = new TestScheduler(() => undefined);
      scheduler.run(({ cold }) => {
        const op = microBatchProcess<string, string>({
          maxCount: 1,
          maxWaitMs: 100,
          maxBufferedCount: 1,
          scheduler,
          process: (b) => cold('-----(x|)', { x: b.join('') }),
        });
        cold('abcdefgh|')
          .pipe(settling(scheduler, log), op)
          .subscribe({ next: (r) => out.push(r), error: (e) => (error = e) });
      });
      expect(error).toBeUndefined();
      expect(out).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
      expect(log.every((l) => l.ok)).toBe(true);
    });

    it('an unsubscribe fails the batch in progress, the waiting batches and the batch being formed', () => {
      const log: Settled[] = [];
      const scheduler = new TestScheduler((a, e) => expect(a).toEqual(e));
      scheduler.run(({ cold, expectObservable }) => {
        const op = microBatchProcess<string, string>({
          maxCount: 2,
          maxWaitMs: 100,
          maxBufferedCount: 4,
          scheduler,
          process: () => cold('------(x|)', { x: 'done' }),
        });
        expectObservable(cold('abcde---').pipe(settling(scheduler, log), op), '^----!').toBe('');
      });
      expect(log.map((l) => `${l.value}@${l.at}:${l.ok}`).sort()).toEqual(['a@5:false', 'b@5:false', 'c@5:false', 'd@5:false', 'e@5:false']);
    });

    it('tells process the batch key; a value without a settlement gets none', () => {
      const infos: BatchInfo[] = [];
      const scheduler = new TestScheduler(() => undefined);
      scheduler.run(({ cold }) => {
        cold('ab|')
          .pipe(
            settling(scheduler, []),
            microBatchProcess<string, number>({ maxCount: 2, maxWaitMs: 10, maxBufferedCount: 2, process: (_b, info) => (infos.push(info), of(1)) }),
          )
          .subscribe();
      });
      of(1)
        .pipe(microBatchProcess<number, number>({ maxCount: 2, maxWaitMs: 10, maxBufferedCount: 2, process: (_b, info) => (infos.push(info), of(1)) }))
        .subscribe();
      expect(infos).toEqual([
        { key: 'S:a+2', recorded: false },
        { key: undefined, recorded: false },
      ]);
    });

    it('property: nothing settles before its batch was processed and its results published; nothing stays held', () => {
      const workArb = fc.array(fc.record({ ms: fc.integer({ min: 0, max: 30 }), fails: fc.boolean() }), { minLength: 1, maxLength: 8 });
      fc.assert(
        fc.property(fc.array(settleActionArb, { maxLength: 60 }), workArb, fc.integer({ min: 1, max: 5 }), (actions, work, maxCount) => {
          const scheduler = new TestScheduler(() => undefined);
          const sink: RecordedPublishes = { publishes: [], done: new Map() };
          const input = new Subject<number>();
          let calls = 0;
          let error: unknown;
          const processBatch = (b: number[]) => {
            const w = work[calls++ % work.length]!;
            return timer(w.ms, scheduler).pipe(
              map(() => {
                if (!w.fails) return b;
                for (const x of b) sink.done.set(x, false);
                throw new Error('process failed');
              }),
            );
          };
          input
            .pipe(microBatchProcess<number, number[]>({ maxCount, maxWaitMs: 20, maxBufferedCount: maxCount, scheduler, process: processBatch }))
            .subscribe({ next: (b) => sink.publishes.push({ inputs: b, held: holdCurrent() }), error: (e) => (error = e) });
          playSettleActions(scheduler, actions, input, sink);
          expect(error).toBeUndefined();
        }),
        { numRuns: Number(process.env.PROP_RUNS ?? 200) },
      );
    });
  });
});
