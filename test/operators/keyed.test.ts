import fc from 'fast-check';
import { asyncScheduler, concat, from, map, mergeMap, of, range, Subject, take, tap, throwError, timer } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Envelope } from '../../src/envelope/envelope.js';
import { BufferOverflowError, InvalidConfigError } from '../../src/errors.js';
import { isDeadLettered } from '../../src/dead-letter/dead-letter-record.js';
import { keyed, type KeyedConfig } from '../../operators/keyed.js';
import { guardHandler } from '../../operators/guard-handler.js';
import { holdCurrent } from '../../src/settle/settle-scope.js';
import { defineTopology } from '../../src/runtime/define-topology.js';
import { describeTopology } from '../../src/runtime/describe-topology.js';
import { SettleLog, slowSink } from '../helpers/settle-log.js';
import { env, testScheduler, endlessSource, itKeepsTheSourceContract } from './realtime-fixtures.js';

type Msg = { k: string; n: number; ms: number };
const m = (k: string, n: number, ms = 0): Envelope<Msg> => env(`in.${k}`, { k, n, ms }, `${k}${n}`);
const values = { a: m('x', 1, 3), b: m('x', 2, 3), c: m('y', 1, 3), d: m('y', 2, 1), e: m('z', 1, 1) };
const base: KeyedConfig<Msg, string> = {
  name: 'stock',
  key: (e) => e.data.k,
  handle: (e) => timer(e.data.ms).pipe(map(() => e.id)),
  maxInFlight: 8,
  mailboxSize: 8,
};
const show = (v: unknown): string => (isDeadLettered(v) ? `dlq:${v.envelope.id}` : String(v));

describe('keyed', () => {
  it('handles one key at a time, in order, and different keys concurrently', () =>
    testScheduler().run(({ cold, expectObservable }) => {
      // x1 0-3 then x2 3-6; y1 2-5 alongside
      expectObservable(cold('abc|', values).pipe(keyed(base))).toBe('---a-c(b|)', { a: 'x1', c: 'y1', b: 'x2' });
    }));

  it('runs at most maxInFlight handlers over all keys, and ready keys take turns in order', () =>
    testScheduler().run(({ cold, expectObservable }) => {
      // one slot: x1 0-3; y (ready at 2) and z (ready at 3) go before x, which is ready again at 3:
      // y1 3-6, z1 6-7, x2 7-10
      const one = keyed({ ...base, maxInFlight: 1 });
      expectObservable(cold('abce|', values).pipe(one)).toBe('---a--ce--(b|)', { a: 'x1', c: 'y1', e: 'z1', b: 'x2' });
    }));

  it('forgets a key once its mailbox is empty (maxKeys counts keys with work only)', () =>
    testScheduler().run(({ cold, expectObservable }) => {
      const oneKey = keyed({ ...base, maxKeys: 1 });
      expectObservable(cold('a---c---e|', values).pipe(oneKey)).toBe('---a---c-(e|)', { a: 'x1', c: 'y1', e: 'z1' });
    }));

  it('fails with BufferOverflowError when a mailbox or maxKeys overflows', () => {
    const failure = (config: KeyedConfig<Msg, string>, input: Envelope<Msg>[]): unknown => {
      let err: unknown;
      testScheduler().run(({ flush }) => {
        from(input)
          .pipe(keyed(config))
          .subscribe({ error: (e: unknown) => (err = e) });
        flush();
      });
      return err;
    };
    const mailbox = failure({ ...base, mailboxSize: 1 }, [m('x', 1, 5), m('x', 2, 5), m('x', 3, 5)]);
    expect(mailbox).toBeInstanceOf(BufferOverflowError);
    expect((mailbox as Error).message).toMatch(/keyed 'stock'.*mailbox of key 'x'/);
    const keys = failure({ ...base, maxKeys: 2 }, [m('x', 1, 5), m('y', 1, 5), m('z', 1, 5)]);
    expect((keys as Error).message).toMatch(/'maxKeys'.*key 'z'/);
  });

  it('pauses the source when a mailbox reaches pauseAtCount and resumes when it drains', () =>
    testScheduler().run(({ cold, expectObservable, flush }) => {
      const calls: string[] = [];
      const pauseControl = { pause: () => calls.push(`pause@${asyncScheduler.now()}`), resume: () => calls.push(`resume@${asyncScheduler.now()}`) };
      const input = { a: m('x', 1, 2), b: m('x', 2, 2), c: m('x', 3, 2), d: m('y', 1, 1) };
      // x1 runs 0-2; at 2 x3 arrives (2 waiting = pauseAtCount: pause), then x1 ends and x2 starts
      // (1 waiting: resume); x2 2-4, x3 4-6, y1 4-5
      const op = keyed({ ...base, mailboxSize: 4, pauseAtCount: 2, pauseControl });
      expectObservable(cold('abc-d|', input).pipe(op)).toBe('--a-bd(c|)', { a: 'x1', b: 'x2', d: 'y1', c: 'x3' });
      flush();
      expect(calls).toEqual(['pause@2', 'resume@2']);
    }));

  it('dead-letters an envelope whose key cannot be computed and carries on', () =>
    testScheduler().run(({ cold, expectObservable }) => {
      const broken = { ...values, n: env('in.bad', null as unknown as Msg, 'bad') };
      expectObservable(cold('n-e|', broken).pipe(keyed(base), map(show))).toBe('n--(e|)', { n: 'dlq:bad', e: 'z1' });
    }));

  it('fails when a handler fails or throws (wrap handlers with guardHandler to dead-letter instead)', () =>
    testScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('a|', values).pipe(keyed({ ...base, handle: () => throwError(() => 'db down') }))).toBe('#', undefined, 'db down');
      const throwing = keyed<Msg, string>({
        ...base,
        handle: () => {
          throw new Error('sync');
        },
      });
      expectObservable(cold('a|', values).pipe(throwing)).toBe('#', undefined, new Error('sync'));
    }));

  it('drains long runs of synchronous handlers without growing the stack', () => {
    let count = 0;
    range(0, 100_000)
      .pipe(
        map((i) => m('x', i)),
        keyed({ ...base, mailboxSize: 100_000, handle: (e) => of(e.data.n) }),
      )
      .subscribe(() => (count += 1));
    expect(count).toBe(100_000);
  });

  it('rejects bad configuration at creation', () => {
    expect(() => keyed({ ...base, maxInFlight: 0 })).toThrow(InvalidConfigError);
    expect(() => keyed({ ...base, mailboxSize: 0 })).toThrow(/mailboxSize/);
    expect(() => keyed({ ...base, maxKeys: 0 })).toThrow(/maxKeys/);
    expect(() => keyed({ ...base, pauseAtCount: 9 })).toThrow(/pauseAtCount/);
    expect(() => keyed({ ...base, pauseControl: {} as never })).toThrow(/pauseControl/);
    expect(() => keyed({ ...base, key: 'sku' as never })).toThrow(/key/);
    expect(() => keyed({ ...base, name: '' })).toThrow(/name/);
  });

  describe('checklist', () => {
    itKeepsTheSourceContract(() => keyed(base));

    it('unsubscribes from the source and running handlers when unsubscribed early', () =>
      testScheduler().run(({ hot, cold, expectObservable, expectSubscriptions }) => {
        const source = hot('-a----', values);
        const work = cold<string>('----r|');
        expectObservable(source.pipe(keyed({ ...base, handle: () => work })), '^--!').toBe('---');
        expectSubscriptions(source.subscriptions).toBe('^--!');
        expectSubscriptions(work.subscriptions).toBe('-^-!');
      }));

    it('stops a synchronous source when unsubscribed', () => {
      const { source: endless, produced } = endlessSource<Envelope<Msg>>((i) => m(`k${i}`, i));
      const seen: string[] = [];
      endless.pipe(keyed({ ...base, handle: (e) => of(e.id) }), take(3)).subscribe((v) => seen.push(show(v)));
      expect(seen).toEqual(['k00', 'k11', 'k22']);
      expect(produced()).toBe(3);
    });

    it('handles re-entrant input from its own output', () => {
      const input = new Subject<Envelope<Msg>>();
      const seen: string[] = [];
      input.pipe(keyed({ ...base, handle: (e) => of(e.data.n) })).subscribe((n) => {
        seen.push(show(n));
        if (typeof n === 'number' && n < 3) input.next(m('x', n + 1));
      });
      input.next(m('x', 0));
      expect(seen).toEqual(['0', '1', '2', '3']);
    });
  });

  describe('property: per-key order, one handler per key, bounded concurrency', () => {
    it('holds for any interleaving of keys, arrival gaps and handler latencies', () => {
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd'), fc.nat(4), fc.nat(12)), { maxLength: 40 }),
          fc.integer({ min: 1, max: 5 }),
          (arrivals, maxInFlight) => {
            const running = new Set<string>();
            let total = 0;
            let peak = 0;
            const violations: string[] = [];
            const out: string[] = [];
            let completed = false;
            const inputs = arrivals.map(([k, , ms], i) => m(k, i, ms));
            testScheduler().run(({ flush }) => {
              const source = concat(...arrivals.map(([, gap], i) => timer(gap).pipe(map(() => inputs[i]!))));
              source
                .pipe(
                  keyed<Msg, string>({
                    name: 'p',
                    key: (e) => e.data.k,
                    maxInFlight,
                    mailboxSize: arrivals.length + 1,
                    handle: (e, key) => {
                      if (running.has(key)) violations.push(`two handlers for ${key}`);
                      running.add(key);
                      total += 1;
                      peak = Math.max(peak, total);
                      return timer(e.data.ms).pipe(
                        map(() => e.id),
                        tap({
                          complete: () => {
                            running.delete(key);
                            total -= 1;
                          },
                        }),
                      );
                    },
                  }),
                )
                .subscribe({ next: (id) => out.push(show(id)), complete: () => (completed = true) });
              flush();
            });
            expect(violations).toEqual([]);
            expect(peak).toBeLessThanOrEqual(maxInFlight);
            expect(completed).toBe(true);
            expect([...out].sort()).toEqual(inputs.map((e) => e.id).sort());
            for (const k of ['a', 'b', 'c', 'd']) {
              const prefix = (id: string) => id.startsWith(k);
              expect(out.filter(prefix)).toEqual(inputs.map((e) => e.id).filter(prefix));
            }
          },
        ),
        { numRuns: Number(process.env.PROP_RUNS ?? 100) },
      );
    });
  });

  describe('settling', () => {
    const byId = (x: Envelope<Msg>): string => x.id;

    it('holds each input through its wait in the mailbox until its handler is done and its values are out', () =>
      testScheduler().run(({ cold, expectObservable, flush }) => {
        const bare = new SettleLog(() => asyncScheduler.now());
        const sunk = new SettleLog(() => asyncScheduler.now());
        // x1 0-3, then x2 3-6; y1 2-5
        expectObservable(cold('abc|', values).pipe(bare.inputs(byId), keyed(base))).toBe('---a-c(b|)', { a: 'x1', c: 'y1', b: 'x2' });
        // and a durable sink whose publish ack comes 2 frames later
        expectObservable(
          cold('abc|', values).pipe(
            sunk.inputs(byId),
            keyed(base),
            slowSink(() => cold('--|')),
          ),
        ).toBe('-----a-c(b|)', { a: 'x1', c: 'y1', b: 'x2' });
        flush();
        expect(bare.summary()).toEqual({ x1: 'acked@3', y1: 'acked@5', x2: 'acked@6' });
        expect(sunk.summary()).toEqual({ x1: 'acked@5', y1: 'acked@7', x2: 'acked@8' });
      }));

    it('fails the input of a failed handler and goes on with its key; without a settling input the output fails', () =>
      testScheduler().run(({ cold, expectObservable, flush }) => {
        const log = new SettleLog(() => asyncScheduler.now());
        const handle = (e: Envelope<Msg>) => (e.id === 'x1' ? cold<string>('--#', undefined, new Error('db down')) : cold('-v|', { v: e.id }));
        expectObservable(cold('ab|', values).pipe(log.inputs(byId), keyed({ ...base, handle }))).toBe('---b|', { b: 'x2' });
        expectObservable(cold('ab|', values).pipe(keyed({ ...base, handle }))).toBe('--#', undefined, new Error('db down'));
        flush();
        expect(log.summary()).toEqual({ x1: 'failed@2', x2: 'acked@4' });
        expect(log.get('x1')!.error).toBe('db down');
      }));

    it("holds an input until guardHandler's dead letter is stored, across retries; a failed store fails it", () =>
      testScheduler().run(({ cold, expectObservable, flush }) => {
        const log = new SettleLog(() => asyncScheduler.now());
        // Like ctx.deadLetter with a dead-letter stream: holds the current input until the store's ack (4 frames).
        const store = () => {
          const held = holdCurrent();
          cold('----|').subscribe({ complete: () => held?.release() });
        };
        const failingStore = () => {
          const held = holdCurrent();
          cold('----|').subscribe({ complete: () => (held?.fail(new Error('dlq down')), held?.release()) });
        };
        const guarded = (sink: () => void) =>
          keyed({
            ...base,
            handle: guardHandler<Msg, string>({
              name: 'reserve',
              handle: () => throwError(() => new Error('busy')),
              retry: { maxAttempts: 3, initialDelayMs: 5, jitter: 'none' },
              sink,
            }),
          });
        // tries at 0, 5, 15; dead letter at 15, stored at 19
        expectObservable(cold('a|', values).pipe(log.inputs(byId), guarded(store), map(show))).toBe('15ms (a|)', { a: 'dlq:x1' });
        expectObservable(cold('-c|', values).pipe(log.inputs(byId), guarded(failingStore), map(show))).toBe('16ms (c|)', { c: 'dlq:y1' });
        flush();
        expect(log.summary()).toEqual({ x1: 'acked@19', y1: 'failed@20' });
      }));

    it("emits the dead letter of a key that throws in its input's scope", () =>
      testScheduler().run(({ cold, expectObservable, flush }) => {
        const log = new SettleLog(() => asyncScheduler.now());
        const broken = { n: env('in.bad', null as unknown as Msg, 'bad') };
        expectObservable(
          cold('n|', broken).pipe(
            log.inputs(byId),
            keyed(base),
            slowSink(() => cold('---|')),
            map(show),
          ),
        ).toBe('---(n|)', { n: 'dlq:bad' });
        flush();
        expect(log.summary()).toEqual({ bad: 'acked@3' });
      }));

    it('fails every input it holds, running or waiting, on overflow and when unsubscribed', () =>
      testScheduler().run(({ hot, cold, expectObservable, flush }) => {
        const overflow = new SettleLog(() => asyncScheduler.now());
        const slow = { ...base, handle: () => cold<string>('-----v|') };
        expectObservable(cold('abf', { ...values, f: m('x', 3) }).pipe(overflow.inputs(byId), keyed({ ...slow, mailboxSize: 1 }))).toBe(
          '--#',
          undefined,
          expect.objectContaining({ name: 'BufferOverflowError' }),
        );
        const stopped = new SettleLog(() => asyncScheduler.now());
        expectObservable(hot('-ac---', values).pipe(stopped.inputs(byId), keyed({ ...slow, maxInFlight: 1 })), '^---!').toBe('----');
        flush();
        expect(overflow.summary()).toEqual({ x1: 'failed@2', x2: 'failed@2', x3: 'failed@2' });
        expect(overflow.get('x3')!.error).toMatch(/mailbox of key 'x'/);
        expect(stopped.summary()).toEqual({ x1: 'failed@4', y1: 'failed@4' });
      }));

    it("property: every input settles once, never before its handler and its values' effects are done, failed exactly when its handler failed", () => {
      fc.assert(
        fc.property(
          fc.array(fc.record({ k: fc.constantFrom('a', 'b', 'c'), gap: fc.nat(4), ms: fc.nat(10), fails: fc.boolean(), ackMs: fc.nat(5) }), { maxLength: 30 }),
          fc.integer({ min: 1, max: 4 }),
          (arrivals, maxInFlight) => {
            let log!: SettleLog;
            const handledAt = new Map<string, number>();
            const ackedAt = new Map<string, number>();
            let completed = false;
            const inputs = arrivals.map((a, i) => m(a.k, i, a.ms));
            testScheduler().run(({ flush }) => {
              log = new SettleLog(() => asyncScheduler.now());
              concat(...arrivals.map((a, i) => timer(a.gap).pipe(map(() => inputs[i]!))))
                .pipe(
                  log.inputs(byId),
                  keyed<Msg, string>({
                    name: 'p',
                    key: (e) => e.data.k,
                    maxInFlight,
                    mailboxSize: arrivals.length + 1,
                    handle: (e) =>
                      timer(e.data.ms).pipe(
                        tap(() => handledAt.set(e.id, asyncScheduler.now())),
                        mergeMap(() => (arrivals[e.data.n]!.fails ? throwError(() => new Error('handler failed')) : of(e.id))),
                      ),
                  }),
                  map(show),
                  slowSink((id: string) => timer(arrivals[Number(id.slice(1))]!.ackMs).pipe(tap({ complete: () => ackedAt.set(id, asyncScheduler.now()) }))),
                )
                .subscribe({ complete: () => (completed = true) });
              flush();
            });
            expect(completed).toBe(true);
            expect(log.held()).toEqual([]);
            expect(log.settledTwice()).toEqual([]);
            inputs.forEach((e, i) => {
              const settled = log.get(e.id)!;
              expect(settled.as, e.id).toBe(arrivals[i]!.fails ? 'failed' : 'acked');
              expect(settled.at, e.id).toBeGreaterThanOrEqual(handledAt.get(e.id)!);
              if (!arrivals[i]!.fails) expect(settled.at, e.id).toBe(ackedAt.get(e.id));
            });
          },
        ),
        { numRuns: Number(process.env.PROP_RUNS ?? 100) },
      );
    });

    it('lets describe follow a path through it', () => {
      const topology = defineTopology('stock', (t) => t.stream<Msg>('IN', 'in.>', { maxUnsettled: 8 }).pipe(keyed(base), t.sink('out', { durable: true })));
      expect(describeTopology(topology).paths.map((p) => p.guarantee)).toEqual(['exactly-once']);
    });

    it("refuses, while the topology is built, a mailbox or key bound below the stream's credit, unless the source can be paused", () => {
      const build = (config: Partial<typeof base>, maxUnsettled?: number) =>
        describeTopology(defineTopology('stock', (t) => t.stream<Msg>('IN', 'in.>', { maxUnsettled }).pipe(keyed({ ...base, ...config }), t.sink('out'))));
      expect(() => build({})).toThrow(/keyed 'stock': 'mailboxSize' is 8, below the maxUnsettled \(1000\) of stream 'IN'/);
      expect(() => build({ mailboxSize: 1_000, maxKeys: 10 })).toThrow(/'maxKeys' is 10, below the maxUnsettled \(1000\)/);
      expect(() => build({}, 8)).not.toThrow();
      expect(() => build({ pauseControl: { pause: () => undefined, resume: () => undefined } })).not.toThrow();
    });
  });
});
