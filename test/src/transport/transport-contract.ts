import { firstValueFrom, type Observable, type Subscription } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Envelope } from '../../../src/envelope/envelope.js';
import { InvalidSubjectError, NoRespondersError, RequestTimeoutError, TransportError } from '../../../src/errors.js';
import type { AckPublisherConfig, AckPublishMessage, OrderedReader, OrderedReadOptions, StreamMessage, Transport } from '../../../src/transport/transport.js';
import { uniqueName } from '../../helpers/nats-server.js';

/** What each contract test gets: a fresh transport and how to get rid of it. */
export interface TransportFixture {
  transport: Transport;
  dispose(): Promise<void>;
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/**
 * Subscribes now and resolves with the first `count` values. Rejects after `timeoutMs` saying how
 * many arrived, so a failing contract test shows what was missing.
 */
export function collect<T>(source: Observable<T>, count: number, timeoutMs = 5000, onValue?: (v: T) => void): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const got: T[] = [];
    let sub: Subscription | undefined;
    const timer = setTimeout(() => {
      sub?.unsubscribe();
      reject(new Error(`expected ${count} values within ${timeoutMs} ms, got ${got.length}`));
    }, timeoutMs);
    const finish = (): void => {
      clearTimeout(timer);
      queueMicrotask(() => sub?.unsubscribe());
      resolve(got);
    };
    sub = source.subscribe({
      next: (v) => {
        if (got.length >= count) return;
        got.push(v);
        onValue?.(v);
        if (got.length === count) finish();
      },
      error: (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    });
    if (count === 0) finish();
  });
}

/**
 * The behaviour every {@link Transport} must share, run against each implementation. Subjects
 * and streams are unique per test, so the suites can share one server.
 */
export function runTransportContract(name: string, factory: () => Promise<TransportFixture>): void {
  describe(`${name}: Transport contract`, () => {
    let fixture: TransportFixture;
    let t: Transport;
    beforeEach(async () => {
      fixture = await factory();
      t = fixture.transport;
    });
    afterEach(async () => {
      await fixture.dispose();
    });

    /** A fresh in-memory stream capturing `<p>.>` (or `subjects`); `p` is its lower-cased name. */
    async function stream(options: { subjects?: string[]; duplicateWindowMs?: number } = {}): Promise<{ name: string; p: string }> {
      const name = uniqueName('S');
      const p = name.toLowerCase();
      await t.ensureStream({ name, subjects: options.subjects ?? [`${p}.>`], storage: 'memory', duplicateWindowMs: options.duplicateWindowMs });
      return { name, p };
    }

    /** Publishes `subjects` then `last` (which must match) and returns the first subject received. */
    async function firstMatch(pattern: string, subjects: string[], last: string): Promise<string> {
      const got = collect(t.subscribe(pattern), 1);
      for (const s of subjects) t.publish(s, enc(s));
      t.publish(last, enc(last));
      const [first] = await got;
      return first?.subject ?? '';
    }

    describe('core pub/sub', () => {
      it('delivers to an exact subject with payload, and not to other subjects', async () => {
        const p = uniqueName('exact');
        const got = collect(t.subscribe(`${p}.a`), 1);
        t.publish(`${p}.b`, enc('no'));
        t.publish(`${p}.a`, enc('yes'));
        const [m] = await got;
        expect(m?.subject).toBe(`${p}.a`);
        expect(dec(m?.data ?? new Uint8Array())).toBe('yes');
        expect(m?.id).toMatch(/\S+/);
      });

      it("'*' matches exactly one token", async () => {
        const p = uniqueName('star');
        expect(await firstMatch(`${p}.*.x`, [`${p}.x`, `${p}.a.b.x`, `${p}.a.y`, `other.a.x`], `${p}.a.x`)).toBe(`${p}.a.x`);
      });

      it("'>' matches one or more trailing tokens, never zero", async () => {
        const p = uniqueName('gt');
        expect(await firstMatch(`${p}.>`, [p, `x${p}.a`], `${p}.a.b.c`)).toBe(`${p}.a.b.c`);
        expect(await firstMatch(`${p}.>`, [], `${p}.a`)).toBe(`${p}.a`);
      });

      it('keeps per-publisher order for 1000 messages', async () => {
        const p = uniqueName('order');
        const got = collect(t.subscribe(`${p}.*`), 1000);
        for (let i = 0; i < 1000; i++) t.publish(`${p}.${i % 7}`, enc(String(i)));
        const received = (await got).map((m) => Number(dec(m.data)));
        expect(received).toEqual(Array.from({ length: 1000 }, (_, i) => i));
      });

      it('carries headers; id comes from Nats-Msg-Id and event time from Sluice-Event-Time', async () => {
        const p = uniqueName('hdr');
        const got = collect(t.subscribe(p), 2);
        t.publish(p, enc('a'), {
          headers: { 'X-Trace': 'abc', 'Content-Type': 'application/json', 'Nats-Msg-Id': 'm-1', 'Sluice-Event-Time': '1700000000000' },
        });
        t.publish(p, enc('b'));
        const [first, second] = await got;
        expect(first?.headers).toMatchObject({ 'X-Trace': 'abc', 'Content-Type': 'application/json' });
        expect(first?.id).toBe('m-1');
        expect(first?.eventTime).toBe(1_700_000_000_000);
        expect(second?.id).not.toBe(first?.id);
        expect(Math.abs((second?.eventTime ?? 0) - Date.now())).toBeLessThan(60_000);
      });

      it('load-balances a queue group: each message to exactly one member, both get some', async () => {
        const p = uniqueName('queue');
        const a: string[] = [];
        const b: string[] = [];
        const subs = [
          t.subscribe(p, { queue: 'workers' }).subscribe((m) => a.push(dec(m.data))),
          t.subscribe(p, { queue: 'workers' }).subscribe((m) => b.push(dec(m.data))),
        ];
        const all = collect(t.subscribe(p), 200);
        for (let i = 0; i < 200; i++) t.publish(p, enc(String(i)));
        await all;
        await t.flush();
        await waitFor(() => a.length + b.length >= 200);
        subs.forEach((s) => s.unsubscribe());
        expect(a.length).toBeGreaterThan(0);
        expect(b.length).toBeGreaterThan(0);
        expect([...a, ...b].sort()).toEqual(Array.from({ length: 200 }, (_, i) => String(i)).sort());
      });

      it('stops delivering and removes the subscription when the Observable is unsubscribed', async () => {
        const p = uniqueName('unsub');
        const seen: Envelope<Uint8Array>[] = [];
        const sub = t.subscribe(p).subscribe((m) => seen.push(m));
        t.publish(p, enc('1'));
        await t.flush();
        await waitFor(() => seen.length === 1);
        sub.unsubscribe();
        t.publish(p, enc('2'));
        await t.flush();
        // No leaked subscription: the broker itself says nobody listens any more.
        await expect(t.request(p, enc('?'), { timeoutMs: 2000 })).rejects.toBeInstanceOf(NoRespondersError);
        expect(seen.map((m) => dec(m.data))).toEqual(['1']);
      });

      it("refuses payloads over the server's max_payload (1 MiB by default) with TransportError", async () => {
        const p = uniqueName('big');
        const big = new Uint8Array(1024 * 1024 + 1);
        expect(() => t.publish(p, big)).toThrow(TransportError);
        await expect(t.request(p, big, { timeoutMs: 500 })).rejects.toBeInstanceOf(TransportError);
        t.publish(p, new Uint8Array(512 * 1024)); // well under the limit
        await t.flush();
      });

      it('maxPayloadBytes says the limit: the server default max_payload, 1 MiB', () => {
        expect(t.maxPayloadBytes).toBe(1024 * 1024);
      });

      it('rejects invalid subjects with InvalidSubjectError', async () => {
        for (const bad of ['', 'a..b', 'a.*', 'a.>', 'has space', '.a', 'a.']) {
          expect(() => t.publish(bad, enc('x'))).toThrow(InvalidSubjectError);
        }
        for (const bad of ['', 'a.>.b', 'a..b', 'tab\there']) {
          expect(() => t.subscribe(bad)).toThrow(InvalidSubjectError);
        }
        await expect(t.request('a.*', enc('x'), { timeoutMs: 100 })).rejects.toBeInstanceOf(InvalidSubjectError);
        await expect(t.publishDurable('a.>', enc('x'))).rejects.toBeInstanceOf(InvalidSubjectError);
      });
    });

    describe('request/reply', () => {
      it('resolves with the first reply; the responder sees headers and a reply subject', async () => {
        const p = uniqueName('svc');
        const responder = t.subscribe(p).subscribe((m) => {
          if (m.reply !== undefined) t.publish(m.reply, enc(`${dec(m.data)}:${m.headers['X-Who'] ?? ''}`), { headers: { 'X-Answer': 'yes' } });
        });
        try {
          const reply = await t.request(p, enc('ping'), { timeoutMs: 2000, headers: { 'X-Who': 'me' } });
          expect(dec(reply.data)).toBe('ping:me');
          expect(reply.headers['X-Answer']).toBe('yes');
        } finally {
          responder.unsubscribe();
        }
      });

      it('rejects with RequestTimeoutError when nobody answers in time', async () => {
        const p = uniqueName('silent');
        const sub = t.subscribe(p).subscribe(() => undefined);
        try {
          const err = await t.request(p, enc('x'), { timeoutMs: 150 }).catch((e: unknown) => e);
          expect(err).toBeInstanceOf(RequestTimeoutError);
          expect(err).toMatchObject({ subject: p, timeoutMs: 150 });
        } finally {
          sub.unsubscribe();
        }
      });

      it('rejects with NoRespondersError when no subscriber matches', async () => {
        const p = uniqueName('nobody');
        const err = await t.request(p, enc('x'), { timeoutMs: 5000 }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(NoRespondersError);
        expect(err).toMatchObject({ subject: p });
      });
    });

    describe('JetStream', () => {
      it('ensureStream creates, is idempotent, and adds missing subjects', async () => {
        const { name, p } = await stream();
        expect(await t.streamState(name)).toEqual({ messages: 0, firstSeq: 0, lastSeq: 0 });
        await t.ensureStream({ name, subjects: [`${p}.>`] });
        await t.ensureStream({ name, subjects: [`${p}.>`, `${p}-extra`] });
        await t.publishDurable(`${p}-extra`, enc('x'));
        expect(await t.streamState(name)).toEqual({ messages: 1, firstSeq: 1, lastSeq: 1 });
      });

      it('publishDurable dedups by msgId: duplicate flag and the original seq', async () => {
        const { name, p } = await stream();
        expect(await t.publishDurable(`${p}.a`, enc('1'), { msgId: 'id-1' })).toEqual({ stream: name, seq: 1, duplicate: false });
        expect(await t.publishDurable(`${p}.a`, enc('1 again'), { msgId: 'id-1' })).toEqual({ stream: name, seq: 1, duplicate: true });
        expect(await t.publishDurable(`${p}.b`, enc('2'), { msgId: 'id-2' })).toEqual({ stream: name, seq: 2, duplicate: false });
        expect(await t.publishDurable(`${p}.b`, enc('3'))).toEqual({ stream: name, seq: 3, duplicate: false });
        expect(await t.streamState(name)).toEqual({ messages: 3, firstSeq: 1, lastSeq: 3 });
      });

      it('stores core publishes on captured subjects; rejects durable publishes nobody captures', async () => {
        const { name, p } = await stream();
        t.publish(`${p}.core`, enc('x'));
        await t.flush();
        // The server stores core publishes asynchronously after acknowledging the flush.
        await waitForAsync(async () => (await t.streamState(name)).lastSeq === 1);
        await expect(t.publishDurable(uniqueName('uncaptured'), enc('x'))).rejects.toBeInstanceOf(TransportError);
        await expect(t.streamState(uniqueName('NOSTREAM'))).rejects.toBeInstanceOf(TransportError);
      });

      it("answers a request on a stream subject with the stream's ack, as JetStream does", async () => {
        const { name, p } = await stream();
        const reply = await t.request(`${p}.req`, enc('x'), { timeoutMs: 2000 });
        expect(JSON.parse(dec(reply.data))).toMatchObject({ stream: name, seq: 1 });
      });

      it('maxMessages discards the oldest messages', async () => {
        const name = uniqueName('LIM');
        const p = name.toLowerCase();
        await t.ensureStream({ name, subjects: [`${p}.>`], storage: 'memory', maxMessages: 3 });
        for (let i = 1; i <= 5; i++) await t.publishDurable(`${p}.x`, enc(String(i)));
        expect(await t.streamState(name)).toEqual({ messages: 3, firstSeq: 3, lastSeq: 5 });
        const got = await collect(t.consume({ stream: name }), 3);
        expect(got.map((m) => dec(m.data))).toEqual(['3', '4', '5']);
      });

      it('ordered consume delivers from startSeq in order, then live messages, filtered', async () => {
        const { name, p } = await stream();
        for (let i = 1; i <= 10; i++) await t.publishDurable(`${p}.${i % 2 === 0 ? 'even' : 'odd'}`, enc(String(i)), i === 5 ? { msgId: 'five' } : {});
        const all = await collect(t.consume({ stream: name, startSeq: 4 }), 7);
        expect(all.map((m) => m.seq)).toEqual([4, 5, 6, 7, 8, 9, 10]);
        expect(all.every((m) => m.stream === name && m.deliveryCount === 1)).toBe(true);
        expect(all.map((m) => m.id).slice(0, 2)).toEqual([`${name}:4`, 'five']);
        all[0]?.ack(); // a no-op for ordered consumers, must not throw

        const live = collect(t.consume({ stream: name, startSeq: 3, filterSubject: `${p}.even` }), 5, 5000, (m) => {
          if (m.seq === 10) void t.publishDurable(`${p}.even`, enc('12'));
        });
        expect((await live).map((m) => dec(m.data))).toEqual(['4', '6', '8', '10', '12']);
      });

      it('durable consume: ack, nak redelivery, and the position is kept across consumes', async () => {
        const { name, p } = await stream();
        for (let i = 1; i <= 3; i++) await t.publishDurable(`${p}.x`, enc(String(i)));
        const durableName = uniqueName('d');
        const deliveries = await collect(t.consume({ stream: name, durableName, ackWaitMs: 30_000 }), 4, 10_000, (m) => {
          if (m.seq === 2 && m.deliveryCount === 1) m.nak();
          else m.ack();
        });
        expect(deliveries.map((m) => `${m.seq}/${m.deliveryCount}`).sort()).toEqual(['1/1', '2/1', '2/2', '3/1']);
        await t.flush();
        await t.publishDurable(`${p}.x`, enc('4'));
        const [next] = await collect(t.consume({ stream: name, durableName }), 1, 10_000, (m) => m.ack());
        expect(next?.seq).toBe(4);
        expect(next?.deliveryCount).toBe(1);
      });

      it('only the first ack/nak/term of a delivery counts', async () => {
        const { name, p } = await stream();
        await t.publishDurable(`${p}.x`, enc('1'));
        const got = await collect(t.consume({ stream: name, durableName: uniqueName('d') }), 2, 10_000, (m) => {
          if (m.deliveryCount === 1) {
            m.nak();
            m.ack(); // ignored: the nak came first
          } else {
            m.ack();
          }
        });
        expect(got.map((m) => [m.seq, m.deliveryCount])).toEqual([
          [1, 1],
          [1, 2],
        ]);
      });

      it('durable consume redelivers what is not acked within ackWaitMs', async () => {
        const { name, p } = await stream();
        await t.publishDurable(`${p}.x`, enc('1'));
        const got = await collect(t.consume({ stream: name, durableName: uniqueName('d'), ackWaitMs: 400 }), 2, 10_000, (m) => {
          if (m.deliveryCount > 1) m.ack();
        });
        expect(got.map((m) => [m.seq, m.deliveryCount])).toEqual([
          [1, 1],
          [1, 2],
        ]);
      });

      it("consumerState: a durable consumer's lag (num_pending), unacknowledged and redelivered counts; undefined before it exists", async () => {
        const { name, p } = await stream();
        const durableName = uniqueName('d');
        expect(await t.consumerState(name, durableName)).toBeUndefined();
        for (let i = 1; i <= 5; i++) await t.publishDurable(`${p}.x`, enc(String(i)));
        const seen: StreamMessage[] = [];
        const sub = t.consume({ stream: name, durableName, maxInFlight: 2, ackWaitMs: 30_000 }).subscribe((m) => seen.push(m));
        try {
          await waitFor(() => seen.length >= 2);
          await waitForAsync(async () => (await t.consumerState(name, durableName))?.pending === 3);
          expect(await t.consumerState(name, durableName)).toEqual({ pending: 3, ackPending: 2, redelivered: 0 });
          seen[0]!.nak();
          seen[1]!.ack();
          await waitFor(() => seen.some((m) => m.seq === 1 && m.deliveryCount === 2));
          await waitForAsync(async () => (await t.consumerState(name, durableName))?.redelivered === 1);
          expect(await t.consumerState(name, durableName)).toMatchObject({ ackPending: 2, redelivered: 1 });
        } finally {
          sub.unsubscribe();
        }
      });

      it('durable consume holds at most maxInFlight unacknowledged messages', async () => {
        const { name, p } = await stream();
        for (let i = 1; i <= 5; i++) await t.publishDurable(`${p}.x`, enc(String(i)));
        const seen: StreamMessage[] = [];
        const sub = t.consume({ stream: name, durableName: uniqueName('d'), maxInFlight: 2 }).subscribe((m) => seen.push(m));
        try {
          await waitFor(() => seen.length >= 2);
          await new Promise((r) => setTimeout(r, 300)); // a window in which more must not arrive
          expect(seen.map((m) => m.seq)).toEqual([1, 2]);
          seen[0]?.ack();
          await waitFor(() => seen.length >= 3);
          expect(seen.map((m) => m.seq)).toEqual([1, 2, 3]);
        } finally {
          sub.unsubscribe();
        }
      });

      it('consume of a missing stream errors with TransportError', async () => {
        const err = await firstValueFrom(t.consume({ stream: uniqueName('MISSING') })).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(TransportError);
      });
    });

    describe('ordered reads (readOrdered)', () => {
      /** Opens a reader that records how often it said messages are available. */
      async function reader(options: Omit<OrderedReadOptions, 'onAvailable'>): Promise<{ r: OrderedReader; available: () => number }> {
        let calls = 0;
        const r = await t.readOrdered({ ...options, onAvailable: () => void (calls += 1) });
        return { r, available: () => calls };
      }

      it('reads from startSeq in stream order, filtered, then what is stored later', async () => {
        const { name, p } = await stream();
        for (let i = 1; i <= 10; i++) await t.publishDurable(`${p}.${i % 2 === 0 ? 'even' : 'odd'}`, enc(String(i)), i === 6 ? { msgId: 'six' } : {});
        const { r, available } = await reader({ stream: name, filterSubject: `${p}.even`, startSeq: 3, maxBuffered: 100 });
        try {
          await waitFor(() => r.size === 4);
          expect(available()).toBeGreaterThan(0);
          const first = r.take(10);
          expect(first.map((m) => [m.seq, dec(m.data)])).toEqual([
            [4, '4'],
            [6, '6'],
            [8, '8'],
            [10, '10'],
          ]);
          expect(first.map((m) => m.id)).toEqual([`${name}:4`, 'six', `${name}:8`, `${name}:10`]);
          expect(first.every((m) => m.stream === name && m.deliveryCount === 1)).toBe(true);
          expect(r.position).toBe(10);
          await t.publishDurable(`${p}.odd`, enc('11'));
          await t.publishDurable(`${p}.even`, enc('12'));
          await waitFor(() => r.size === 1);
          expect(r.take(10).map((m) => m.seq)).toEqual([12]);
          expect(r.take(10)).toEqual([]);
        } finally {
          await r.close();
        }
      });

      it("stamps each message with the stream's timestamp, also its default event time", async () => {
        const { name, p } = await stream();
        await t.publishDurable(`${p}.x`, enc('a'));
        await t.publishDurable(`${p}.x`, enc('b'), { headers: { 'Sluice-Event-Time': '1700000000000' } });
        const { r } = await reader({ stream: name, startSeq: 1, maxBuffered: 10 });
        try {
          await waitFor(() => r.size === 2);
          const [a, b] = r.take(2);
          expect(Math.abs((a?.timestampMs ?? 0) - Date.now())).toBeLessThan(60_000);
          expect(a?.eventTime).toBe(a?.timestampMs);
          expect(b?.eventTime).toBe(1_700_000_000_000);
        } finally {
          await r.close();
        }
      });

      it('holds at most maxBuffered messages; taking makes room for the next ones, without gaps', async () => {
        const { name, p } = await stream();
        await Promise.all(Array.from({ length: 60 }, (_, i) => t.publishDurable(`${p}.x`, enc(String(i + 1)))));
        const { r } = await reader({ stream: name, startSeq: 1, maxBuffered: 8 });
        try {
          await waitFor(() => r.size > 0);
          await new Promise((res) => setTimeout(res, 200)); // a window in which more must not arrive
          expect(r.size).toBeLessThanOrEqual(8);
          const seqs: number[] = [];
          while (seqs.length < 60) {
            await waitFor(() => r.size > 0);
            expect(r.size).toBeLessThanOrEqual(8);
            seqs.push(...r.take(3).map((m) => m.seq));
          }
          expect(seqs).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
        } finally {
          await r.close();
        }
      });

      it('stops reading when closed; a missing stream rejects with TransportError', async () => {
        const { name, p } = await stream();
        const { r, available } = await reader({ stream: name, startSeq: 1, maxBuffered: 10 });
        await r.close();
        await r.close();
        await t.publishDurable(`${p}.x`, enc('late'));
        await new Promise((res) => setTimeout(res, 200));
        expect([r.size, available()]).toEqual([0, 0]);
        await expect(t.readOrdered({ stream: uniqueName('MISSING'), startSeq: 1, maxBuffered: 1, onAvailable: () => undefined })).rejects.toBeInstanceOf(
          TransportError,
        );
      });
    });

    describe('windowed publish with acks (ackPublisher)', () => {
      /** An ack publisher whose callbacks are recorded; token = the message's label. */
      function publisher(config: Partial<AckPublisherConfig<string>> = {}) {
        const acks: [string, boolean][] = [];
        const rejected: string[] = [];
        const failures: Error[] = [];
        const pub = t.ackPublisher<string>({
          onAck: (token, { duplicate }) => void acks.push([token, duplicate]),
          onRejected: (token) => void rejected.push(token),
          onFailure: (err) => void failures.push(err),
          ...config,
        });
        return { pub, acks, rejected, failures };
      }

      it('acks every message once, in order, duplicate for an id the stream already holds', async () => {
        const { name, p } = await stream();
        const { pub, acks, failures } = publisher();
        try {
          for (let i = 0; i < 50; i++)
            pub.publish({ subject: `${p}.${i % 3}`, data: enc(String(i)), msgId: `id-${i}`, headers: { 'X-N': String(i) } }, `m${i}`);
          pub.publish({ subject: `${p}.0`, data: enc('again'), msgId: 'id-7' }, 'again');
          await waitFor(() => acks.length === 51);
          expect(acks).toEqual([...Array.from({ length: 50 }, (_, i) => [`m${i}`, false]), ['again', true]]);
          expect([pub.pending, pub.inFlight, failures]).toEqual([0, 0, []]);
          const stored = await collect(t.consume({ stream: name }), 50);
          expect(stored.map((m) => [m.id, m.headers['X-N'], dec(m.data)])).toEqual(Array.from({ length: 50 }, (_, i) => [`id-${i}`, String(i), String(i)]));
        } finally {
          pub.close();
        }
      });

      it('keeps at most maxInFlight unacknowledged; the rest wait in order', async () => {
        const { p } = await stream();
        let maxSeen = 0;
        const sent: string[] = [];
        const { pub, acks } = publisher({ maxInFlight: 3, beforeSend: (token) => void sent.push(token) });
        try {
          for (let i = 0; i < 20; i++) pub.publish({ subject: `${p}.x`, data: enc(String(i)), msgId: `w-${i}` }, `m${i}`);
          expect([pub.inFlight, pub.pending, sent]).toEqual([3, 20, ['m0', 'm1', 'm2']]);
          await waitFor(() => {
            maxSeen = Math.max(maxSeen, pub.inFlight);
            return acks.length === 20;
          });
          expect(maxSeen).toBeLessThanOrEqual(3);
          expect(sent).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
        } finally {
          pub.close();
        }
      });

      it('re-sends a message no stream captures, under the same id, until a stream does', async () => {
        const name = uniqueName('P');
        const p = name.toLowerCase();
        const { pub, acks, rejected } = publisher();
        try {
          pub.publish({ subject: `${p}.late`, data: enc('x'), msgId: 'late-1' }, 'late');
          await waitFor(() => rejected.length >= 1);
          expect(acks).toEqual([]);
          await t.ensureStream({ name, subjects: [`${p}.>`], storage: 'memory' });
          await waitFor(() => acks.length === 1);
          expect(acks).toEqual([['late', false]]);
          expect(await t.streamState(name)).toMatchObject({ messages: 1 });
        } finally {
          pub.close();
        }
      });

      it('publishAt reads each message from its source when it is sent, and again for a re-send', async () => {
        const { p: px } = await stream();
        const name = uniqueName('P');
        const p = name.toLowerCase();
        const reads: number[] = [];
        // One shared cursor, as an outbox blob's reader has: valid until the next messageAt.
        const cursor: AckPublishMessage = { subject: '', data: new Uint8Array(0), msgId: '' };
        const source = {
          messageAt: (at: number) => {
            reads.push(at);
            cursor.subject = at === 0 ? `${p}.late` : `${px}.x`;
            cursor.data = enc(String(at));
            cursor.msgId = `at-${at}`;
            return cursor;
          },
        };
        const { pub, acks, rejected } = publisher({ maxInFlight: 100 });
        try {
          // 0 has no stream until later: it is refused and re-sent; 1..199 outlive the first slots.
          for (let at = 0; at < 200; at++) pub.publishAt(source, at, `m${at}`);
          await waitFor(() => rejected.length >= 1 && acks.length === 199);
          await t.ensureStream({ name, subjects: [`${p}.>`], storage: 'memory' });
          await waitFor(() => acks.length === 200);
          expect(acks.map(([m]) => m).sort()).toEqual(Array.from({ length: 200 }, (_, i) => `m${i}`).sort());
          expect(reads.filter((at) => at === 0).length).toBeGreaterThanOrEqual(2);
          expect([pub.pending, pub.inFlight]).toEqual([0, 0]);
          const stored = await collect(t.consume({ stream: name }), 1);
          expect(stored.map((m) => [m.id, dec(m.data)])).toEqual([['at-0', '0']]);
        } finally {
          pub.close();
        }
      });

      it('a callback that throws closes the publisher and is reported to onFailure', async () => {
        const { name, p } = await stream();
        const { pub, failures } = publisher({
          beforeSend: (token) => {
            if (token === 'm2') throw new Error('crash before m2');
          },
        });
        for (let i = 0; i < 5; i++) pub.publish({ subject: `${p}.x`, data: enc(String(i)), msgId: `f-${i}` }, `m${i}`);
        expect(failures.map((e) => e.message)).toEqual(['crash before m2']);
        pub.publish({ subject: `${p}.x`, data: enc('after'), msgId: 'f-after' }, 'after'); // ignored
        await t.flush();
        await new Promise((res) => setTimeout(res, 100));
        expect((await t.streamState(name)).messages).toBe(2);
      });
    });

    describe('stream lookups', () => {
      it('findStream names the stream capturing a subject with its window and state; undefined when none does', async () => {
        const { name, p } = await stream({ duplicateWindowMs: 30_000 });
        await t.publishDurable(`${p}.a`, enc('1'));
        expect(await t.findStream(`${p}.a.b`)).toEqual({ name, subjects: [`${p}.>`], duplicateWindowMs: 30_000, messages: 1, firstSeq: 1, lastSeq: 1 });
        expect(await t.findStream(uniqueName('nowhere'))).toBeUndefined();
      });

      it('findMsgIds reports which ids the stream holds', async () => {
        const { name, p } = await stream();
        for (const id of ['a', 'b', 'c']) await t.publishDurable(`${p}.x`, enc(id), { msgId: id });
        await t.publishDurable(`${p}.x`, enc('no id'));
        const found = await t.findMsgIds(name, new Set(['a', 'c', 'zzz']), { sinceMs: Date.now() - 60_000 });
        expect([...found].sort()).toEqual(['a', 'c']);
        await expect(t.findMsgIds(uniqueName('MISSING'), new Set(['a']), { sinceMs: 0 })).rejects.toBeInstanceOf(TransportError);
      });
    });

    describe('close', () => {
      it('closed() resolves, without an error, once close() has run', async () => {
        let resolved = false;
        const closed = t.closed().then((err) => {
          resolved = true;
          return err;
        });
        await new Promise((res) => setTimeout(res, 20));
        expect(resolved).toBe(false);
        await t.close();
        expect(await closed).toBeUndefined();
      });

      it('is idempotent, completes subscriptions, and refuses later publishes', async () => {
        const p = uniqueName('close');
        let completed = false;
        t.subscribe(p).subscribe({ complete: () => (completed = true) });
        await t.close();
        await t.close();
        expect(completed).toBe(true);
        expect(() => t.publish(p, enc('x'))).toThrow(TransportError);
      });
    });
  });
}

/** Polls `cond` until true; for checks whose timing belongs to the broker, not to us. */
export async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** {@link waitFor} for conditions that need a round trip. */
export async function waitForAsync(cond: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
