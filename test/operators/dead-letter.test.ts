import { asyncScheduler, EMPTY, from, map, NEVER, Observable, of, take, throwError, timer } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Envelope } from '../../src/envelope/envelope.js';
import { BufferOverflowError, InvalidConfigError } from '../../src/errors.js';
import { deadLetter } from '../../operators/dead-letter.js';
import type { DeadLettered } from '../../src/dead-letter/dead-letter-record.js';
import type { Handled } from '../../operators/guard-handler.js';
import { env, testScheduler } from './realtime-fixtures.js';

type Out = Handled<number, string> | DeadLettered<number>;
const show = (o: Out): string => (o.kind === 'handled' ? `${o.envelope.data}:${o.values.join('+')}` : `${o.envelope.data}:dlq`);
const e = (n: number): Envelope<number> => env('in', n, String(n));
const values = { a: e(1), b: e(2), c: e(3), d: e(-4) };

describe('deadLetter', () => {
  it('handles envelopes concurrently but emits outcomes in input order, failures included', () =>
    testScheduler().run(({ cold, expectObservable }) => {
      const dead: number[] = [];
      const op = deadLetter<number, string>({
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
      const op = deadLetter<number, string>({
        name: 'g',
        handle: (x) => (x.data < 0 ? throwError(() => new Error('negative')) : timer(2).pipe(map(() => 'ok'))),
        sink: () => undefined,
      });
      expectObservable(cold('da|', values).pipe(op, map(show))).toBe('d--(a|)', { d: '-4:dlq', a: '1:ok' });
    }));

  it('fails with BufferOverflowError when more than maxQueued envelopes wait for a slot', () =>
    testScheduler().run(({ cold, flush }) => {
      const op = deadLetter<number, string>({ name: 'slow', maxQueued: 1, handle: () => NEVER, sink: () => undefined });
      let failure: unknown;
      let failedAt = -1;
      cold('abc', values).pipe(op).subscribe({ error: (err: unknown) => ((failure = err), (failedAt = asyncScheduler.now())) });
      flush();
      // a runs, b waits, c is one too many
      expect(failure).toBeInstanceOf(BufferOverflowError);
      expect((failure as Error).message).toMatch(/deadLetter 'slow'.*maxQueued/);
      expect(failedAt).toBe(2);
    }));

  it('rejects bad limits at creation', () => {
    const ok = { name: 'g', handle: () => of(1), sink: () => undefined };
    expect(() => deadLetter({ ...ok, maxInFlight: 0 })).toThrow(InvalidConfigError);
    expect(() => deadLetter({ ...ok, maxQueued: -1 })).toThrow(/maxQueued/);
  });

  describe('checklist', () => {
    const op = () => deadLetter<number, string>({ name: 'g', handle: (x) => of(`v${x.data}`), sink: () => undefined });

    it('never emits for a never-ending silent source', () =>
      testScheduler().run(({ expectObservable }) => expectObservable(NEVER.pipe(op())).toBe('-')));

    it('completes for an empty source', () =>
      testScheduler().run(({ expectObservable }) => expectObservable(EMPTY.pipe(op())).toBe('|')));

    it('passes a source error on', () =>
      testScheduler().run(({ expectObservable }) => expectObservable(throwError(() => 'boom').pipe(op())).toBe('#', undefined, 'boom')));

    it('unsubscribes from the source and the running handler when unsubscribed early', () =>
      testScheduler().run(({ hot, cold, expectObservable, expectSubscriptions }) => {
        const source = hot('-a-----', values);
        const work = cold<string>('-----x|');
        const slow = deadLetter<number, string>({ name: 'g', handle: () => work, sink: () => undefined });
        expectObservable(source.pipe(slow), '^--!').toBe('---');
        expectSubscriptions(source.subscriptions).toBe('^--!');
        expectSubscriptions(work.subscriptions).toBe('-^-!');
      }));

    it('stops a synchronous source when unsubscribed', () => {
      let produced = 0;
      const endless = new Observable<Envelope<number>>((s) => {
        for (let i = 0; !s.closed; i++) {
          produced += 1;
          s.next(e(i));
        }
      });
      const seen: string[] = [];
      endless.pipe(op(), take(3)).subscribe((o) => seen.push(show(o)));
      expect(seen).toEqual(['0:v0', '1:v1', '2:v2']);
      expect(produced).toBe(3);
    });

    it('keeps going past a handler that throws synchronously (it is dead-lettered)', () => {
      const seen: string[] = [];
      from([e(1), e(2)])
        .pipe(
          deadLetter<number, string>({
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
