import { asyncScheduler, from, map, NEVER, of, take, throwError, timer } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Envelope } from '../../src/envelope/envelope.js';
import { BufferOverflowError, InvalidConfigError } from '../../src/errors.js';
import { guard } from '../../operators/guard.js';
import type { DeadLettered } from '../../src/dead-letter/dead-letter-record.js';
import type { Handled } from '../../operators/guard-handler.js';
import { holdCurrent } from '../../src/settle/settle-scope.js';
import { defineTopology } from '../../src/runtime/define-topology.js';
import { describeTopology } from '../../src/runtime/describe-topology.js';
import { SettleLog, slowSink } from '../helpers/settle-log.js';
import { env, testScheduler, endlessSource, itKeepsTheSourceContract } from './realtime-fixtures.js';

type Out = Handled<number, string> | DeadLettered<number>;
const show = (o: Out): string => (o.kind === 'handled' ? `${o.envelope.data}:${o.values.join('+')}` : `${o.envelope.data}:dlq`);
const e = (n: number): Envelope<number> => env('in', n, String(n));
const values = { a: e(1), b: e(2), c: e(3), d: e(-4) };

describe('guard', () => {
  it('handles envelopes concurrently but emits outcomes in input order, failures included', () =>
    testScheduler().run(({ cold, expectObservable }) => {
      const dead: number[] = [];
      const op = guard<number, string>({
        name: 'ledger',
        maxInFlight: 3,
        // 1 takes 5 frames, 2 takes 1, 3 takes 2; negatives fail
        handle: (x) => (x.data < 0 ? throwError(() => new Error('negative')) : timer([0, 5, 1, 2][x.data]!).pipe(map(() => `v${x.data}`))),
        sink: (d) => {
          dead.push(d.envelope.data);
        },
      });
      expectObservable(cold('abcd|', values).pipe(op, map(show))).toBe('-----(abcd|)', { a: '1:v1', b: '2:v2', c: '3:v3', d: '-4:dlq' });
    }));

  it('carries on after a failure and runs one at a time by default', () =>
    testScheduler().run(({ cold, expectObservable }) => {
      const op = guard<number, string>({
        name: 'g',
        handle: (x) => (x.data < 0 ? throwError(() => new Error('negative')) : timer(2).pipe(map(() => 'ok'))),
        sink: () => undefined,
      });
      expectObservable(cold('da|', values).pipe(op, map(show))).toBe('d--(a|)', { d: '-4:dlq', a: '1:ok' });
    }));

  it('fails with BufferOverflowError when more than maxQueued envelopes wait for a slot', () =>
    testScheduler().run(({ cold, flush }) => {
      const op = guard<number, string>({ name: 'slow', maxQueued: 1, handle: () => NEVER, sink: () => undefined });
      let failure: unknown;
      let failedAt = -1;
      cold('abc', values)
        .pipe(op)
        .subscribe({ error: (err: unknown) => ((failure = err), (failedAt = asyncScheduler.now())) });
      flush();
      // a runs, b waits, c is one too many
      expect(failure).toBeInstanceOf(BufferOverflowError);
      expect((failure as Error).message).toMatch(/guard 'slow'.*maxQueued/);
      expect(failedAt).toBe(2);
    }));

  it('rejects bad limits at creation', () => {
    const ok = { name: 'g', handle: () => of(1), sink: () => undefined };
    expect(() => guard({ ...ok, maxInFlight: 0 })).toThrow(InvalidConfigError);
    expect(() => guard({ ...ok, maxQueued: -1 })).toThrow(/maxQueued/);
  });

  describe('settling', () => {
    const byId = (x: Envelope<number>): string => x.id;
    const retry = { maxAttempts: 3, initialDelayMs: 5, jitter: 'none' as const };

    it('keeps each input held across its retries until its outcome is out and its effects are complete', () =>
      testScheduler().run(({ cold, expectObservable, flush }) => {
        const log = new SettleLog(() => asyncScheduler.now());
        // 1 fails twice: tries at 0 (fails at 1), 6 (fails at 7), 17 (done at 19); 2 succeeds at once but waits its turn.
        const op = guard<number, string>({
          name: 'ledger',
          maxInFlight: 2,
          retry,
          handle: (x, attempt) => (x.data === 1 && attempt < 3 ? cold<string>('-#', undefined, new Error('busy')) : cold('-v|', { v: `v${x.data}` })),
          sink: () => undefined,
        });
        expectObservable(
          cold('ab|', values).pipe(
            log.inputs(byId),
            op,
            slowSink(() => cold('--|')),
            map(show),
          ),
        ).toBe('21ms (ab|)', { a: '1:v1', b: '2:v2' });
        flush();
        expect(log.summary()).toEqual({ '1': 'acked@21', '2': 'acked@21' });
      }));

    it("runs the dead-letter sink in the input's scope, so the input settles once the dead letter is stored", () =>
      testScheduler().run(({ cold, expectObservable, flush }) => {
        const log = new SettleLog(() => asyncScheduler.now());
        // Like ctx.deadLetter with a dead-letter stream: holds the current input until the store's ack.
        const sink = (d: DeadLettered<number>): void => {
          const held = holdCurrent();
          cold('----|').subscribe({ complete: () => (d.envelope.data === 3 && held?.fail(new Error('dlq down')), held?.release()) });
        };
        const op = guard<number, string>({ name: 'ledger', retry, handle: () => throwError(() => new Error('down')), sink });
        // each: tries at 0, 5, 15, dead letter at 15, stored at 19 (3's store fails)
        expectObservable(cold('c|', values).pipe(log.inputs(byId), op, map(show))).toBe('15ms (c|)', { c: '3:dlq' });
        expectObservable(cold('a|', values).pipe(log.inputs(byId), op, map(show))).toBe('15ms (a|)', { a: '1:dlq' });
        flush();
        expect(log.summary()).toEqual({ '1': 'acked@19', '3': 'failed@19' });
        expect(log.get('3')!.error).toBe('dlq down');
      }));

    it('fails the input whose dead letter could not be stored and goes on; without a settling input the output fails', () =>
      testScheduler().run(({ cold, expectObservable, flush }) => {
        const log = new SettleLog(() => asyncScheduler.now());
        const op = guard<number, string>({
          name: 'ledger',
          handle: (x) => (x.data === 1 ? throwError(() => new Error('down')) : of('ok')),
          sink: () => cold('--#', undefined, new Error('dlq down')),
        });
        expectObservable(cold('ab|', values).pipe(log.inputs(byId), op, map(show))).toBe('--(b|)', { b: '2:ok' });
        expectObservable(cold('ab|', values).pipe(op, map(show))).toBe('--#', undefined, new Error('dlq down'));
        flush();
        expect(log.summary()).toEqual({ '1': 'failed@2', '2': 'acked@2' });
      }));

    it('lets describe follow a path through it', () => {
      const topology = defineTopology('ledger', (t) =>
        t
          .stream<number>('IN', 'in')
          .pipe(
            guard<number, string>({ name: 'ledger', handle: () => of('ok'), sink: (d) => t.deadLetter(d.envelope, d.error) }),
            t.sink('out', { durable: true }),
          ),
      );
      expect(describeTopology(topology).paths.map((p) => p.guarantee)).toEqual(['exactly-once']);
    });
  });

  describe('checklist', () => {
    const op = () => guard<number, string>({ name: 'g', handle: (x) => of(`v${x.data}`), sink: () => undefined });

    itKeepsTheSourceContract(() => op());

    it('unsubscribes from the source and the running handler when unsubscribed early', () =>
      testScheduler().run(({ hot, cold, expectObservable, expectSubscriptions }) => {
        const source = hot('-a-----', values);
        const work = cold<string>('-----x|');
        const slow = guard<number, string>({ name: 'g', handle: () => work, sink: () => undefined });
        expectObservable(source.pipe(slow), '^--!').toBe('---');
        expectSubscriptions(source.subscriptions).toBe('^--!');
        expectSubscriptions(work.subscriptions).toBe('-^-!');
      }));

    it('stops a synchronous source when unsubscribed', () => {
      const { source: endless, produced } = endlessSource<Envelope<number>>((i) => e(i));
      const seen: string[] = [];
      endless.pipe(op(), take(3)).subscribe((o) => seen.push(show(o)));
      expect(seen).toEqual(['0:v0', '1:v1', '2:v2']);
      expect(produced()).toBe(3);
    });

    it('keeps going past a handler that throws synchronously (it is dead-lettered)', () => {
      const seen: string[] = [];
      from([e(1), e(2)])
        .pipe(
          guard<number, string>({
            name: 'g',
            handle: (x) => {
              if (x.data === 1) throw new Error('sync');
              return of('ok');
            },
            sink: () => undefined,
          }),
        )
        .subscribe((o) => seen.push(show(o)));
      expect(seen).toEqual(['1:dlq', '2:ok']);
    });
  });
});
