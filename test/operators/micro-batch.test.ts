import fc from 'fast-check';
import { merge, NEVER, Observable, Subject, take, timer, map, EMPTY, of, throwError } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../src/errors.js';
import { currentSettlement, holdCurrent } from '../../src/settle/settle-scope.js';
import { microBatch } from '../../operators/micro-batch.js';
import { microBatchProcess } from '../../operators/micro-batch-process.js';
import { defineTopology } from '../../src/runtime/define-topology.js';
import { describeTopology } from '../../src/runtime/describe-topology.js';
import { holdingSink, playSettleActions, settleActionArb, settling, type RecordedPublishes, type Settled } from './settle-fixtures.js';

const ts = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('microBatch', () => {
  it('emits a batch when maxCount is reached', () =>
    ts().run(({ hot, expectObservable }) => {
      expectObservable(hot('-a-b-c-d-|').pipe(microBatch({ maxCount: 2, maxWaitMs: 100 }))).toBe('---x---y-|', {
        x: ['a', 'b'],
        y: ['c', 'd'],
      });
    }));

  it('emits a partial batch maxWaitMs after its first value, never an empty one', () =>
    ts().run(({ cold, expectObservable }) => {
      expectObservable(cold('a 3ms b 20ms c 30ms -|').pipe(microBatch({ maxCount: 10, maxWaitMs: 10 }))).toBe('10ms x 24ms y 21ms |', {
        x: ['a', 'b'],
        y: ['c'],
      });
    }));

  it('cuts by maxWaitMs measured from the first value', () =>
    ts().run(({ cold, expectObservable }) => {
      // a at 0, b at 4: the batch is due at 10 (a's arrival + 10), not 14.
      expectObservable(cold('a 3ms b 20ms |').pipe(microBatch({ maxCount: 10, maxWaitMs: 10 }))).toBe('10ms x 14ms |', {
        x: ['a', 'b'],
      });
    }));

  it('cuts by bytes: a value that would overflow starts the next batch; an oversized value travels alone', () =>
    ts().run(({ cold, expectObservable }) => {
      const sizes: Record<string, number> = { a: 4, b: 4, c: 4, d: 20, e: 1 };
      const op = microBatch<string>({ maxCount: 10, maxWaitMs: 100, maxBytes: 10, sizeOf: (v) => sizes[v] ?? 0 });
      expectObservable(cold('abc-d--e|').pipe(op)).toBe('--x-(yz)(w|)', { x: ['a', 'b'], y: ['c'], z: ['d'], w: ['e'] });
    }));

  it('emits when the bytes reach maxBytes exactly', () =>
    ts().run(({ cold, expectObservable }) => {
      const op = microBatch<string>({ maxCount: 10, maxWaitMs: 100, maxBytes: 8, sizeOf: () => 4 });
      expectObservable(cold('ab-c|').pipe(op)).toBe('-x--(y|)', { x: ['a', 'b'], y: ['c'] });
    }));

  it('flushes after idleMs of inactivity', () =>
    ts().run(({ cold, expectObservable }) => {
      const op = microBatch({ maxCount: 10, maxWaitMs: 1000, idleMs: 5 });
      expectObservable(cold('a 2ms b 20ms c 100ms |').pipe(op)).toBe('8ms x 20ms y 95ms |', { x: ['a', 'b'], y: ['c'] });
    }));

  it('flushes the remainder on completion, in order', () =>
    ts().run(({ cold, expectObservable }) => {
      expectObservable(cold('abc|').pipe(microBatch({ maxCount: 2, maxWaitMs: 100 }))).toBe('-x-(y|)', {
        x: ['a', 'b'],
        y: ['c'],
      });
    }));

  it('default sizeOf uses the envelope raw bytes', () =>
    ts().run(({ cold, expectObservable }) => {
      const env = (n: number) => ({ subject: 's', data: null, raw: new Uint8Array(n) });
      const values = { a: env(6), b: env(6), c: env(3) };
      expectObservable(cold('abc|', values).pipe(microBatch({ maxCount: 10, maxWaitMs: 100, maxBytes: 10 }))).toBe('-x-(y|)', {
        x: [values.a],
        y: [values.b, values.c],
      });
    }));

  describe('checklist', () => {
    it('never: emits nothing', () =>
      ts().run(({ expectObservable }) => {
        expectObservable(NEVER.pipe(microBatch({ maxCount: 2, maxWaitMs: 10 }))).toBe('-');
      }));

    it('empty: completes without a batch', () =>
      ts().run(({ expectObservable }) => {
        expectObservable(EMPTY.pipe(microBatch({ maxCount: 2, maxWaitMs: 10 }))).toBe('|');
      }));

    it('one value: emits it on completion', () =>
      ts().run(({ expectObservable }) => {
        expectObservable(of(1).pipe(microBatch({ maxCount: 2, maxWaitMs: 10 }))).toBe('(x|)', { x: [1] });
      }));

    it('source error: forwards it and drops the partial batch', () =>
      ts().run(({ cold, expectObservable }) => {
        expectObservable(cold('ab-#').pipe(microBatch({ maxCount: 5, maxWaitMs: 10 }))).toBe('---#');
      }));

    it('early unsubscribe: cancels the pending timer', () =>
      ts().run(({ hot, expectObservable, expectSubscriptions }) => {
        const src = hot('-a-b-c-');
        expectObservable(src.pipe(microBatch({ maxCount: 5, maxWaitMs: 3 })), '^--!').toBe('---');
        expectSubscriptions(src.subscriptions).toBe('^--!');
      }));

    it('sizeOf throws: errors the output', () =>
      ts().run(({ cold, expectObservable }) => {
        const boom = new Error('boom');
        const op = microBatch<string>({
          maxCount: 5,
          maxWaitMs: 10,
          maxBytes: 5,
          sizeOf: (v) => {
            if (v === 'b') throw boom;
            return 1;
          },
        });
        expectObservable(cold('ab|').pipe(op)).toBe('-#', undefined, boom);
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
      const seen: number[][] = [];
      src.pipe(microBatch({ maxCount: 1, maxWaitMs: 10 }), take(3)).subscribe((b) => seen.push(b));
      expect(seen).toEqual([[0], [1], [2]]);
      expect(produced).toBe(3);
    });

    it('a source error after values propagates', () => {
      const errors: unknown[] = [];
      throwError(() => new Error('x'))
        .pipe(microBatch({ maxCount: 1, maxWaitMs: 1 }))
        .subscribe({ error: (e) => errors.push(e) });
      expect(errors).toHaveLength(1);
    });
  });

  it('validates its config at creation', () => {
    expect(() => microBatch({ maxCount: 0, maxWaitMs: 10 })).toThrow(InvalidConfigError);
    expect(() => microBatch({ maxCount: 1.5, maxWaitMs: 10 })).toThrow(/maxCount/);
    expect(() => microBatch({ maxCount: 1, maxWaitMs: -1 })).toThrow(/maxWaitMs/);
    expect(() => microBatch({ maxCount: 1, maxWaitMs: 1, maxBytes: 0 })).toThrow(/maxBytes/);
    expect(() => microBatch({ maxCount: 1, maxWaitMs: 1, idleMs: Number.NaN })).toThrow(/idleMs/);
  });

  describe('properties (virtual time)', () => {
    interface Arrival {
      readonly id: number;
      readonly at: number;
      readonly size: number;
    }
    const arrivalsArb = fc.array(fc.record({ gap: fc.integer({ min: 0, max: 40 }), size: fc.integer({ min: 1, max: 30 }) }), { maxLength: 60 }).map((xs) => {
      let at = 0;
      return xs.map((x, id): Arrival => ({ id, at: (at += x.gap), size: x.size }));
    });
    const configArb = fc.record({
      maxCount: fc.integer({ min: 1, max: 12 }),
      maxWaitMs: fc.integer({ min: 0, max: 80 }),
      maxBytes: fc.option(fc.integer({ min: 1, max: 120 }), { nil: undefined }),
      idleMs: fc.option(fc.integer({ min: 0, max: 50 }), { nil: undefined }),
    });

    it('loses nothing, duplicates nothing, keeps order, respects every limit and maxWaitMs', () => {
      fc.assert(
        fc.property(arrivalsArb, configArb, (arrivals, cfg) => {
          const out: { at: number; batch: Arrival[] }[] = [];
          let completedAt = -1;
          const scheduler = new TestScheduler(() => undefined);
          scheduler.run(() => {
            const end = (arrivals[arrivals.length - 1]?.at ?? 0) + 1;
            const src = new Observable<Arrival>((sub) =>
              merge(...arrivals.map((a) => timer(a.at, scheduler).pipe(map(() => a))), timer(end, scheduler).pipe(map(() => null))).subscribe((a) =>
                a === null ? sub.complete() : sub.next(a),
              ),
            );
            src.pipe(microBatch({ ...cfg, sizeOf: (a) => a.size, scheduler })).subscribe({
              next: (batch) => out.push({ at: scheduler.now(), batch }),
              complete: () => (completedAt = scheduler.now()),
            });
          });
          expect(completedAt).toBeGreaterThanOrEqual(0);
          expect(out.flatMap((o) => o.batch.map((a) => a.id))).toEqual(arrivals.map((a) => a.id));
          for (const { at, batch } of out) {
            expect(batch.length).toBeGreaterThanOrEqual(1);
            expect(batch.length).toBeLessThanOrEqual(cfg.maxCount);
            const bytes = batch.reduce((s, a) => s + a.size, 0);
            if (cfg.maxBytes !== undefined && batch.length > 1) expect(bytes).toBeLessThanOrEqual(cfg.maxBytes);
            for (const a of batch) expect(at - a.at).toBeLessThanOrEqual(cfg.maxWaitMs);
          }
        }),
        { numRuns: Number(process.env.PROP_RUNS ?? 200) },
      );
    });
  });

  describe('settlement: an input settles only once its batch was emitted and its downstream effects are complete', () => {
    const run = (
      marbles: string,
      cfg: { maxCount: number; maxWaitMs: number },
      ackMs: number,
      fails: (b: string[]) => boolean = () => false,
      unsubAt?: string,
    ) => {
      const log: Settled[] = [];
      const scheduler = new TestScheduler((a, e) => expect(a).toEqual(e));
      const out: Array<{ at: number; batch: string[] }> = [];
      scheduler.run(({ cold, expectObservable }) => {
        const piped = cold(marbles).pipe(settling(scheduler, log), microBatch({ ...cfg, scheduler }), holdingSink(scheduler, ackMs, fails));
        if (unsubAt === undefined) piped.subscribe({ next: (batch) => out.push({ at: scheduler.now(), batch }), error: () => undefined });
        else expectObservable(piped, unsubAt);
      });
      return { log, out };
    };

    it('holds every member until the batch downstream releases it, then settles all at once', () => {
      // a, b, c at 0-2: cut by count at 2; the sink acks 5 ms later.
      const { log, out } = run('abc 20ms |', { maxCount: 3, maxWaitMs: 100 }, 5);
      expect(out).toEqual([{ at: 2, batch: ['a', 'b', 'c'] }]);
      expect(log).toEqual([
        { value: 'a', at: 7, ok: true },
        { value: 'b', at: 7, ok: true },
        { value: 'c', at: 7, ok: true },
      ]);
    });

    it('a batch cut by time holds its members until then plus the downstream effects', () => {
      const { log } = run('a-b 50ms |', { maxCount: 10, maxWaitMs: 10 }, 3);
      expect(log).toEqual([
        { value: 'a', at: 13, ok: true },
        { value: 'b', at: 13, ok: true },
      ]);
    });

    it('without an asynchronous downstream, members settle when their batch is emitted', () => {
      const { log } = run('ab-c 20ms |', { maxCount: 2, maxWaitMs: 100 }, 0);
      expect(log.map((l) => `${l.value}@${l.at}`)).toEqual(['a@1', 'b@1', 'c@24']);
    });

    it('a failed downstream effect fails every member of its batch, and only those', () => {
      const { log } = run('abcd 20ms |', { maxCount: 2, maxWaitMs: 100 }, 4, (b) => b.includes('c'));
      expect(log).toEqual([
        { value: 'a', at: 5, ok: true },
        { value: 'b', at: 5, ok: true },
        { value: 'c', at: 7, ok: false },
        { value: 'd', at: 7, ok: false },
      ]);
    });

    it('a source error fails the members of the batch being formed (they are redelivered)', () => {
      const { log } = run('ab-#', { maxCount: 5, maxWaitMs: 100 }, 1);
      expect(log).toEqual([
        { value: 'a', at: 3, ok: false },
        { value: 'b', at: 3, ok: false },
      ]);
    });

    it('an unsubscribe fails the members of the batch being formed', () => {
      const { log } = run('ab----', { maxCount: 5, maxWaitMs: 100 }, 1, undefined, '^--!');
      expect(log).toEqual([
        { value: 'a', at: 3, ok: false },
        { value: 'b', at: 3, ok: false },
      ]);
    });

    it('emits each batch inside its group settlement (key from the first member)', () => {
      const keys: Array<string | undefined> = [];
      const scheduler = new TestScheduler(() => undefined);
      scheduler.run(({ cold }) => {
        cold('abc|')
          .pipe(settling(scheduler, []), microBatch({ maxCount: 2, maxWaitMs: 10, scheduler }))
          .subscribe(() => keys.push(currentSettlement()?.key));
      });
      expect(keys).toEqual(['S:a+2', 'S:c+1']);
    });

    it('values without a settlement pass as before, outside any scope', () => {
      const keys: Array<string | undefined> = [];
      of(1, 2)
        .pipe(microBatch({ maxCount: 2, maxWaitMs: 10 }))
        .subscribe(() => keys.push(currentSettlement()?.key));
      expect(keys).toEqual([undefined]);
    });

    it("property: nothing settles before its batch's effects, nothing stays held after", () => {
      const cfgArb = fc.record({
        maxCount: fc.integer({ min: 1, max: 6 }),
        maxWaitMs: fc.integer({ min: 0, max: 60 }),
        maxBytes: fc.option(fc.integer({ min: 1, max: 80 }), { nil: undefined }),
        idleMs: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }),
      });
      fc.assert(
        fc.property(fc.array(settleActionArb, { maxLength: 60 }), cfgArb, (actions, cfg) => {
          const scheduler = new TestScheduler(() => undefined);
          const sizes: number[] = [];
          const sink: RecordedPublishes = { publishes: [], done: new Map() };
          const input = new Subject<number>();
          input
            .pipe(microBatch({ ...cfg, sizeOf: (n) => sizes[n]!, scheduler }))
            .subscribe((batch) => sink.publishes.push({ inputs: batch, held: holdCurrent() }));
          playSettleActions(scheduler, actions, input, sink, sizes);
        }),
        { numRuns: Number(process.env.PROP_RUNS ?? 200) },
      );
    });
  });

  it('describe: stream -> microBatch -> durable sink is at-least-once, exactly-once when the groups are recorded', () => {
    const opened: string[] = [];
    const store = () => {
      opened.push('store');
      throw new Error('describe must not open the store');
    };
    const topology = defineTopology('batches', (t) => [
      t.stream('IN', 'in.>').pipe(microBatch({ maxCount: 10, maxWaitMs: 100 }), t.sink('out.plain', { durable: true })),
      t.stream('IN', 'in.>').pipe(microBatch({ maxCount: 10, maxWaitMs: 100, groups: { store, name: 'rec' } }), t.sink('out.recorded', { durable: true })),
      t
        .stream('IN', 'in.>')
        .pipe(
          microBatchProcess({ maxCount: 10, maxWaitMs: 100, maxBufferedCount: 10, groups: { store, name: 'proc' }, process: (b) => of(b.length) }),
          t.sink('out.process', { durable: true }),
        ),
    ]);
    const paths = describeTopology(topology).paths.map((p) => `${p.to}: ${p.guarantee} (${p.because})`);
    expect(paths).toEqual([
      'out.plain: at-least-once (microBatch groups are not recorded, so a replay may regroup under new ids)',
      'out.recorded: exactly-once (output ids derive from input positions; re-publishes fall in the duplicate window)',
      'out.process: exactly-once (output ids derive from input positions; re-publishes fall in the duplicate window)',
    ]);
    expect(opened).toEqual([]);
  });
});
