import fc from 'fast-check';
import { asyncScheduler, concat, EMPTY, from, map, NEVER, Observable, of, range, Subject, take, tap, throwError, timer } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Envelope } from '../../src/envelope/envelope.js';
import { BufferOverflowError, InvalidConfigError } from '../../src/errors.js';
import { isDeadLettered } from '../../src/dead-letter/dead-letter-record.js';
import { keyed, type KeyedConfig } from '../../operators/keyed.js';
import { env, testScheduler } from './realtime-fixtures.js';

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
        from(input).pipe(keyed(config)).subscribe({ error: (e: unknown) => (err = e) });
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
    it('never emits for a never-ending silent source', () =>
      testScheduler().run(({ expectObservable }) => expectObservable(NEVER.pipe(keyed(base))).toBe('-')));

    it('completes for an empty source', () =>
      testScheduler().run(({ expectObservable }) => expectObservable(EMPTY.pipe(keyed(base))).toBe('|')));

    it('passes a source error on', () =>
      testScheduler().run(({ expectObservable }) => expectObservable(throwError(() => 'boom').pipe(keyed(base))).toBe('#', undefined, 'boom')));

    it('unsubscribes from the source and running handlers when unsubscribed early', () =>
      testScheduler().run(({ hot, cold, expectObservable, expectSubscriptions }) => {
        const source = hot('-a----', values);
        const work = cold<string>('----r|');
        expectObservable(source.pipe(keyed({ ...base, handle: () => work })), '^--!').toBe('---');
        expectSubscriptions(source.subscriptions).toBe('^--!');
        expectSubscriptions(work.subscriptions).toBe('-^-!');
      }));

    it('stops a synchronous source when unsubscribed', () => {
      let produced = 0;
      const endless = new Observable<Envelope<Msg>>((s) => {
        for (let i = 0; !s.closed; i++) {
          produced += 1;
          s.next(m(`k${i}`, i));
        }
      });
      const seen: string[] = [];
      endless.pipe(keyed({ ...base, handle: (e) => of(e.id) }), take(3)).subscribe((v) => seen.push(show(v)));
      expect(seen).toEqual(['k00', 'k11', 'k22']);
      expect(produced).toBe(3);
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
});
