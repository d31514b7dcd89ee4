import fc from 'fast-check';
import { TestScheduler } from 'rxjs/testing';
import { asyncScheduler, EMPTY, from, map, Observable, of, take, throwError } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Envelope } from '../../src/envelope/envelope.js';
import { InvalidConfigError, NoRespondersError, RequestTimeoutError } from '../../src/errors.js';
import { check, CheckTimeoutError, type CheckConfig, type Checked } from '../../operators/check.js';
import type { DeadLettered } from '../../src/dead-letter/dead-letter-record.js';
import { defineTopology } from '../../src/runtime/define-topology.js';
import { describeTopology } from '../../src/runtime/describe-topology.js';
import { SettleLog, slowSink } from '../helpers/settle-log.js';
import { env, testScheduler, endlessSource, itKeepsTheSourceContract } from './realtime-fixtures.js';

type Out = Checked<number, string> | DeadLettered<number>;
const show = (o: Out): string => {
  if (o.kind === 'dead-letter') return `${o.envelope.data}:dlq:${o.record.error.name}`;
  return o.outcome === 'answered' ? `${o.envelope.data}:${o.reply}` : `${o.envelope.data}:${o.outcome}:${o.error.name}`;
};
const e = (n: number): Envelope<number> => env('payments', n, String(n));
const values = { a: e(1), b: e(2), c: e(3), d: e(4) };
const base: Omit<CheckConfig<number, string>, 'request'> = { name: 'fraud', timeoutMs: 10, onTimeout: 'allow', onError: 'deny', maxInFlight: 4 };

describe('check', () => {
  it('asks concurrently and emits the replies in input order', () =>
    testScheduler().run(({ cold, expectObservable }) => {
      const replies: Record<number, string> = { 1: '----x|', 2: '-y|', 3: '--z|' };
      const op = check<number, string>({ ...base, request: (x) => cold(replies[x.data]!, { x: 'ok1', y: 'ok2', z: 'ok3' }) });
      expectObservable(cold('abc|', values).pipe(op, map(show))).toBe('----(abc|)', { a: '1:ok1', b: '2:ok2', c: '3:ok3' });
    }));

  it('takes the first reply and does not wait for the request to complete', () =>
    testScheduler().run(({ cold, expectObservable }) => {
      const op = check<number, string>({ ...base, request: () => cold('-r-s-t') });
      expectObservable(cold('a|', values).pipe(op, map(show))).toBe('-(a|)', { a: '1:r' });
    }));

  it('applies onTimeout when no reply comes within timeoutMs', () =>
    testScheduler().run(({ cold, expectObservable }) => {
      const slow = () => cold<string>('------------r|');
      const out = (onTimeout: 'allow' | 'deny' | 'dead-letter') => cold('a|', values).pipe(check({ ...base, onTimeout, request: slow }), map(show));
      expectObservable(out('allow')).toBe('10ms (a|)', { a: '1:timed-out-allowed:CheckTimeoutError' });
      expectObservable(out('deny')).toBe('10ms (a|)', { a: '1:timed-out-denied:CheckTimeoutError' });
      expectObservable(out('dead-letter')).toBe('10ms (a|)', { a: '1:dlq:CheckTimeoutError' });
    }));

  it("counts the transport's own request timeout as a timeout, and other failures as errors", () =>
    testScheduler().run(({ cold, expectObservable }) => {
      const failures: Record<number, () => Observable<string>> = {
        1: () => throwError(() => new RequestTimeoutError('fraud.score', 5)),
        2: () => throwError(() => new NoRespondersError('fraud.score')),
        3: () => EMPTY,
        4: () => {
          throw new TypeError('bad request body');
        },
      };
      const op = check<number, string>({ ...base, onError: 'dead-letter', request: (x) => failures[x.data]!() });
      expectObservable(cold('abcd|', values).pipe(op, map(show))).toBe('abcd|', {
        a: '1:timed-out-allowed:RequestTimeoutError',
        b: '2:dlq:NoRespondersError',
        c: '3:dlq:Error',
        d: '4:dlq:TypeError',
      });
    }));

  it('times a request from when it starts, not from when the envelope arrived', () =>
    testScheduler().run(({ cold, expectObservable }) => {
      // one slot: b waits 8 frames for a, then answers in 7 — within its own 10
      const op = check<number, string>({ ...base, maxInFlight: 1, request: (x) => cold(x.data === 1 ? '--------r|' : '-------s|') });
      expectObservable(cold('ab|', values).pipe(op, map(show))).toBe('--------a------(b|)', { a: '1:r', b: '2:s' });
    }));

  it('puts a CheckTimeoutError naming the check and message in the dead letter', () => {
    const err = new CheckTimeoutError('fraud', 250, 'PAY:9');
    expect(err.message).toBe("check 'fraud': no reply within 250 ms for message 'PAY:9'");
    expect(err.name).toBe('CheckTimeoutError');
  });

  it('rejects bad configuration at creation', () => {
    const ok: CheckConfig<number, string> = { ...base, request: () => of('x') };
    expect(() => check({ ...ok, onTimeout: 'maybe' as 'allow' })).toThrow(InvalidConfigError);
    expect(() => check({ ...ok, onError: undefined as unknown as 'allow' })).toThrow(/onError/);
    expect(() => check({ ...ok, timeoutMs: -1 })).toThrow(/timeoutMs/);
    expect(() => check({ ...ok, maxInFlight: 0 })).toThrow(/maxInFlight/);
    expect(() => check({ ...ok, request: 'fraud.score' as never })).toThrow(/request/);
    expect(() => check({ ...ok, name: '' })).toThrow(/name/);
  });

  describe('checklist', () => {
    const op = () => check<number, string>({ ...base, request: (x) => of(`r${x.data}`) });

    itKeepsTheSourceContract(() => op());

    it('cancels outstanding requests when unsubscribed early', () =>
      testScheduler().run(({ hot, cold, expectObservable, expectSubscriptions }) => {
        const source = hot('-a-----', values);
        const reply = cold<string>('-----r|');
        expectObservable(source.pipe(check({ ...base, request: () => reply })), '^--!').toBe('---');
        expectSubscriptions(source.subscriptions).toBe('^--!');
        expectSubscriptions(reply.subscriptions).toBe('-^-!');
      }));

    it('stops a synchronous source when unsubscribed', () => {
      const { source: endless, produced } = endlessSource<Envelope<number>>((i) => e(i));
      const seen: string[] = [];
      endless.pipe(op(), take(3)).subscribe((o) => seen.push(show(o)));
      expect(seen).toEqual(['0:r0', '1:r1', '2:r2']);
      expect(produced()).toBe(3);
    });

    it('works with promise replies', async () => {
      const seen: string[] = [];
      await new Promise<void>((resolve) =>
        from([e(1), e(2)])
          .pipe(check({ ...base, timeoutMs: 1_000, request: (x) => Promise.resolve(`p${x.data}`) }))
          .subscribe({ next: (o) => seen.push(show(o)), complete: resolve }),
      );
      expect(seen).toEqual(['1:p1', '2:p2']);
    });
  });

  describe('settling', () => {
    const byId = (x: Envelope<number>): string => x.id;

    it('holds each input until its result is out in input order and its downstream effects are complete', () =>
      testScheduler().run(({ cold, expectObservable, flush }) => {
        const replies: Record<number, string> = { 1: '----x|', 2: '-y|', 3: '--z|' };
        const op = () => check<number, string>({ ...base, request: (x) => cold(replies[x.data]!, { x: 'ok1', y: 'ok2', z: 'ok3' }) });
        const bare = new SettleLog(() => asyncScheduler.now());
        const sunk = new SettleLog(() => asyncScheduler.now());
        expectObservable(cold('abc|', values).pipe(bare.inputs(byId), op(), map(show))).toBe('----(abc|)', { a: '1:ok1', b: '2:ok2', c: '3:ok3' });
        // A durable sink downstream: its publish ack comes 3 frames after the result reaches it.
        expectObservable(
          cold('abc|', values).pipe(
            sunk.inputs(byId),
            op(),
            slowSink(() => cold('---|')),
            map(show),
          ),
        ).toBe('-------(abc|)', { a: '1:ok1', b: '2:ok2', c: '3:ok3' });
        flush();
        // b's reply came at 1 and c's at 2, but their results went out behind a's at 4.
        expect(bare.summary()).toEqual({ '1': 'acked@4', '2': 'acked@4', '3': 'acked@4' });
        expect(sunk.summary()).toEqual({ '1': 'acked@7', '2': 'acked@7', '3': 'acked@7' });
      }));

    it('holds an input through its fallback and its dead letter until the dead letter is stored; a failed store fails it', () =>
      testScheduler().run(({ cold, expectObservable, flush }) => {
        const log = new SettleLog(() => asyncScheduler.now());
        const request = (x: Envelope<number>): Observable<string> =>
          x.data === 1 ? cold('------------r|') : x.data === 2 ? throwError(() => new NoRespondersError('fraud.score')) : cold('-r|');
        const op = check<number, string>({ ...base, onTimeout: 'dead-letter', onError: 'allow', request });
        // Downstream, storing a dead letter takes 2 frames, and publishing 3's result fails.
        const store = slowSink((o: Out) => (o.kind === 'dead-letter' ? cold('--|') : o.envelope.data === 3 ? cold('--#') : cold('|')));
        expectObservable(cold('abc|', values).pipe(log.inputs(byId), op, store, map(show))).toBe('----------b-(a|)', {
          a: '1:dlq:CheckTimeoutError',
          b: '2:failed-allowed:NoRespondersError',
        });
        flush();
        // 1 timed out at 10 and its dead letter was stored at 12; 2 and 3 waited behind it.
        expect(log.summary()).toEqual({ '1': 'acked@12', '2': 'acked@10', '3': 'failed@12' });
      }));

    it('fails the inputs still waiting when unsubscribed early, so they are delivered again', () =>
      testScheduler().run(({ hot, cold, expectObservable, flush }) => {
        const log = new SettleLog(() => asyncScheduler.now());
        const source = hot('-ab----', values);
        expectObservable(source.pipe(log.inputs(byId), check({ ...base, maxInFlight: 1, request: () => cold<string>('-----r|') })), '^--!').toBe('---');
        flush();
        expect(log.summary()).toEqual({ '1': 'failed@3', '2': 'failed@3' });
      }));

    it("runs the request in the input's scope and lets describe follow a path through it", () => {
      const topology = defineTopology('fraud', (t) =>
        t.stream<number>('PAY', 'pay.in').pipe(
          check<number, string>({ ...base, request: () => of('ok') }),
          map((c) => c.envelope),
          t.sink('pay.checked', { durable: true }),
        ),
      );
      expect(describeTopology(topology).paths).toEqual([
        {
          from: 'PAY (pay.in)',
          to: 'pay.checked',
          guarantee: 'exactly-once',
          because: 'output ids derive from input positions; re-publishes fall in the duplicate window',
        },
      ]);
    });
  });

  describe('ordered: false', () => {
    it('emits each result as soon as it is known', () =>
      testScheduler().run(({ cold, expectObservable }) => {
        const replies: Record<number, string> = { 1: '----x|', 2: '-y|', 3: '--z|' };
        const op = check<number, string>({ ...base, ordered: false, request: (x) => cold(replies[x.data]!, { x: 'ok1', y: 'ok2', z: 'ok3' }) });
        expectObservable(cold('abc|', values).pipe(op, map(show))).toBe('--b-(ac|)', { a: '1:ok1', b: '2:ok2', c: '3:ok3' });
      }));

    it('settles each input when its own result is out, not behind a slower one', () =>
      testScheduler().run(({ cold, expectObservable, flush }) => {
        const replies: Record<number, string> = { 1: '----x|', 2: '-y|', 3: '--z|' };
        const log = new SettleLog(() => asyncScheduler.now());
        const op = check<number, string>({ ...base, ordered: false, request: (x) => cold(replies[x.data]!, { x: 'ok1', y: 'ok2', z: 'ok3' }) });
        expectObservable(
          cold('abc|', values).pipe(
            log.inputs((x) => x.id),
            op,
            map(show),
          ),
        ).toBe('--b-(ac|)', { a: '1:ok1', b: '2:ok2', c: '3:ok3' });
        flush();
        expect(log.summary()).toEqual({ '1': 'acked@4', '2': 'acked@2', '3': 'acked@4' });
      }));

    it('rejects a non-boolean ordered', () => {
      expect(() => check<number, string>({ ...base, ordered: 'no' as never, request: () => of('x') })).toThrow(/ordered/);
    });

    it('property: every input gets one result, at its completion time, with at most maxInFlight requests outstanding', () => {
      fc.assert(
        fc.property(
          fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 40 }),
          fc.integer({ min: 1, max: 8 }),
          fc.integer({ min: 1, max: 25 }),
          (delays, maxInFlight, timeoutMs) => {
            const scheduler = new TestScheduler(() => undefined);
            const out: { id: number; at: number; outcome: string }[] = [];
            let outstanding = 0;
            let peak = 0;
            scheduler.run(({ cold }) => {
              const request = (x: Envelope<number>) =>
                new Observable<string>((sub) => {
                  // Outstanding = asked and neither answered nor cancelled.
                  let open = true;
                  const close = () => {
                    if (open) outstanding--;
                    open = false;
                  };
                  outstanding++;
                  peak = Math.max(peak, outstanding);
                  const inner = cold(`${'-'.repeat(delays[x.data]!)}r|`).subscribe((v) => {
                    close();
                    sub.next(v);
                  });
                  return () => {
                    close();
                    inner.unsubscribe();
                  };
                });
              from(delays.map((_, i) => e(i)))
                .pipe(check<number, string>({ ...base, timeoutMs, maxInFlight, ordered: false, request }))
                .subscribe((o) =>
                  out.push({ id: (o as Checked<number, string>).envelope.data, at: scheduler.now(), outcome: (o as Checked<number, string>).outcome }),
                );
            });
            // Model: requests start in input order as slots free up; each ends after min(delay, timeout).
            const slots: number[] = [];
            const model: { id: number; at: number }[] = [];
            delays.forEach((d, i) => {
              slots.sort((a, b) => a - b);
              const startAt = slots.length < maxInFlight ? 0 : slots.shift()!;
              const end = startAt + Math.min(d, timeoutMs);
              slots.push(end);
              model.push({ id: i, at: end });
            });
            expect(out.map((o) => o.id).sort((a, b) => a - b)).toEqual(delays.map((_, i) => i));
            for (const o of out) expect(o.at).toBe(model[o.id]!.at);
            expect(out.every((o, i) => i === 0 || o.at >= out[i - 1]!.at)).toBe(true);
            // A reply due at the very frame the timeout fires may go either way.
            expect(out.every((o) => delays[o.id] === timeoutMs || o.outcome === (delays[o.id]! < timeoutMs ? 'answered' : 'timed-out-allowed'))).toBe(true);
            expect(peak).toBeLessThanOrEqual(maxInFlight);
          },
        ),
        { numRuns: Number(process.env.PROP_RUNS ?? 200) },
      );
    });
  });
});
