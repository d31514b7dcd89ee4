import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { catchError, defer, firstValueFrom, from, of, take, throwError, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../src/errors.js';
import { poll, PollFailedError, type PollResult } from '../../operators/poll.js';
import { uniqueName, useNatsServer } from '../helpers/nats-server.js';

const ts = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const page = (c: number): PollResult<number, number> => ({ items: [c], cursor: c + 1 });

describe('poll', () => {
  it('fetches every everyMs from the last cursor and emits the items', () =>
    ts().run(({ expectObservable }) => {
      expectObservable(poll((c: number) => of(page(c)), { everyMs: 10, cursor: { initial: 0 } }).pipe(take(3))).toBe('a 9ms b 9ms (c|)', {
        a: 0,
        b: 1,
        c: 2,
      });
    }));

  it('never overlaps two fetches: a slow fetch delays the next', () =>
    ts().run(({ cold, expectObservable }) => {
      const fetch = (c: number) => {
        return cold('15ms (r|)', { r: page(c) });
      };
      expectObservable(poll(fetch, { everyMs: 10, cursor: { initial: 0 } }).pipe(take(3))).toBe('15ms a 14ms b 14ms (c|)', { a: 0, b: 1, c: 2 });
    }));

  it('fetches again at once while the source says more', () =>
    ts().run(({ expectObservable }) => {
      const fetch = (c: number) => of({ items: [c], cursor: c + 1, more: c < 2 });
      expectObservable(poll(fetch, { everyMs: 10, cursor: { initial: 0 } }).pipe(take(4))).toBe('(abc) 5ms (d|)', { a: 0, b: 1, c: 2, d: 3 });
    }));

  it('resumes from the loaded cursor and saves each new one', () =>
    ts().run(({ cold, expectObservable, flush }) => {
      const saved: number[] = [];
      const out = poll((c: number) => of(page(c)), {
        everyMs: 10,
        cursor: {
          initial: 0,
          load: () => cold('2ms (x|)', { x: 40 }),
          save: (c) => {
            saved.push(c);
            return of(true);
          },
        },
      });
      expectObservable(out.pipe(take(2))).toBe('2ms a 9ms (b|)', { a: 40, b: 41 });
      flush();
      expect(saved).toEqual([41]);
    }));

  it('reports failed polls, retries from the last good cursor, and resets the count on success', () =>
    ts().run(({ expectObservable, flush }) => {
      const errors: string[] = [];
      let calls = 0;
      const fetch = (c: number) => (++calls === 2 || calls === 3 ? throwError(() => new Error(`down ${calls}`)) : of(page(c)));
      const out = poll(fetch, { everyMs: 10, cursor: { initial: 0 }, maxConsecutiveFailures: 3, onError: (e, n) => errors.push(`${e.message}/${n}`) });
      expectObservable(out.pipe(take(2))).toBe('a 29ms (b|)', { a: 0, b: 1 });
      flush();
      expect(errors).toEqual(['down 2/1', 'down 3/2']);
    }));

  it('errors with PollFailedError after maxConsecutiveFailures', () =>
    ts().run(({ expectObservable }) => {
      const out = poll(() => throwError(() => new Error('down')), { everyMs: 10, cursor: { initial: 0 }, maxConsecutiveFailures: 3 }).pipe(
        catchError((e: unknown) => of(e instanceof PollFailedError ? `${e.failures}:${(e.cause as Error).message}` : 'other')),
      );
      expectObservable(out).toBe('20ms (x|)', { x: '3:down' });
    }));

  it('a fetch that completes without a result, or a failing save, is a failed poll', () =>
    ts().run(({ expectObservable, flush }) => {
      const errors: string[] = [];
      let calls = 0;
      const out = poll((c: number) => (++calls === 1 ? from([] as PollResult<number, number>[]) : of(page(c))), {
        everyMs: 5,
        cursor: { initial: 0, save: () => (calls === 2 ? throwError(() => new Error('save failed')) : of(1)) },
        onError: (e) => errors.push(e.message),
      });
      // call 1: no result; call 2: emits 0, save fails (cursor kept in memory); call 3 emits 1.
      expectObservable(out.pipe(take(2))).toBe('5ms a 4ms (b|)', { a: 0, b: 1 });
      flush();
      expect(errors).toEqual(['fetch completed without a value', 'save failed']);
    }));

  describe('checklist', () => {
    it('empty pages: emits nothing and keeps polling', () =>
      ts().run(({ expectObservable }) => {
        expectObservable(
          poll((c: number) => of({ items: [], cursor: c }), { everyMs: 10, cursor: { initial: 0 } }),
          '^ 100ms !',
        ).toBe('');
      }));
    it('early unsubscribe: unsubscribes the fetch in flight', () =>
      ts().run(({ cold, expectObservable, expectSubscriptions }) => {
        const work = cold('10ms (r|)', { r: page(0) });
        expectObservable(
          poll(() => work, { everyMs: 10, cursor: { initial: 0 } }),
          '^--!',
        ).toBe('');
        expectSubscriptions(work.subscriptions).toBe('^--!');
      }));
    it('fetch throws: a failed poll, retried next tick', () =>
      ts().run(({ expectObservable }) => {
        let calls = 0;
        const fetch = (c: number) => {
          if (++calls === 1) throw new Error('sync throw');
          return of(page(c));
        };
        expectObservable(poll(fetch, { everyMs: 10, cursor: { initial: 0 } }).pipe(take(1))).toBe('10ms (a|)', { a: 0 });
      }));
    it('onError throws: errors the source', () =>
      ts().run(({ expectObservable }) => {
        const boom = new Error('boom');
        const out = poll(() => throwError(() => new Error('x')), {
          everyMs: 10,
          cursor: { initial: 0 },
          onError: () => {
            throw boom;
          },
        });
        expectObservable(out).toBe('#', undefined, boom);
      }));
    it('stops emitting a big synchronous page when unsubscribed', () => {
      let fetched = 0;
      const seen: number[] = [];
      poll(
        () => {
          fetched++;
          return of({ items: [1, 2, 3, 4, 5], cursor: 0 });
        },
        { everyMs: 10, cursor: { initial: 0 } },
      )
        .pipe(take(3))
        .subscribe((v) => seen.push(v));
      expect(seen).toEqual([1, 2, 3]);
      expect(fetched).toBe(1);
    });
  });

  it('validates its config at creation', () => {
    expect(() => poll(() => of(page(0)), { everyMs: -1, cursor: { initial: 0 } })).toThrow(InvalidConfigError);
    expect(() => poll(() => of(page(0)), { everyMs: 1, cursor: { initial: 0 }, maxConsecutiveFailures: 0 })).toThrow(/maxConsecutiveFailures/);
    expect(() => poll(undefined as never, { everyMs: 1, cursor: { initial: 0 } })).toThrow(/fetch/);
  });

  describe('against a real nats-server: polling a JetStream stream, cursor in a KV bucket', () => {
    const server = useNatsServer();
    let nc: NatsConnection;
    beforeAll(async () => {
      nc = await connect({ servers: server().url, noAsyncTraces: true });
    });
    afterAll(async () => {
      await nc?.close();
    });

    it('emits every stored message once across a restart, resuming from the saved cursor', async () => {
      const stream = uniqueName('POLL');
      const subject = `${stream}.orders`;
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] });
      const js = jetstream(nc);
      const kv = await new Kvm(nc).create(uniqueName('cursors'));
      for (let i = 1; i <= 5; i++) await js.publish(subject, `order-${i}`);

      // The fetch reads up to 3 messages after the cursor (a stream sequence) with direct gets.
      const fetch = (after: number) =>
        defer(async () => {
          const items: string[] = [];
          let seq = after;
          while (items.length < 3) {
            const m = await jsm.streams.getMessage(stream, { seq: seq + 1 }).catch(() => null);
            if (m === null) break;
            seq = m.seq;
            items.push(m.string());
          }
          return { items, cursor: seq, more: items.length === 3 };
        });
      const cursor = {
        initial: 0,
        load: async () => {
          const e = await kv.get('orders');
          return e === null ? undefined : Number(e.string());
        },
        save: (c: number) => kv.put('orders', String(c)),
      };
      const first = await firstValueFrom(poll(fetch, { everyMs: 20, cursor }).pipe(take(4), toArray()));
      expect(first).toEqual(['order-1', 'order-2', 'order-3', 'order-4']);
      // take(4) unsubscribed in the second page, before its cursor was saved: the saved cursor is
      // 3, so order-4 comes again (at-least-once) and nothing is skipped.
      for (let i = 6; i <= 7; i++) await js.publish(subject, `order-${i}`);
      const second = await firstValueFrom(poll(fetch, { everyMs: 20, cursor }).pipe(take(4), toArray()));
      expect(second).toEqual(['order-4', 'order-5', 'order-6', 'order-7']);
    });
  });
});
