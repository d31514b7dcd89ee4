import { AckPolicy, DeliverPolicy, RetentionPolicy } from '@nats-io/jetstream';
import { firstValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { NatsTransport } from '../../../../src/transport/nats/nats-transport.js';
import { restartMarkName, shouldReRead } from '../../../../src/transport/nats/nats-durable-consumer.js';
import type { ConsumeOptions, StreamMessage } from '../../../../src/transport/transport.js';
import { uniqueName, useNatsServer } from '../../../helpers/nats-server.js';

const server = useNatsServer();
const bytes = (n: number): Uint8Array => new TextEncoder().encode(String(n));

/**
 * A reader that crashes: takes the first `n` deliveries of durable `d`, acks those in `ack`,
 * and closes its connection without settling the others (as a SIGKILL does).
 */
async function crashingReader(options: ConsumeOptions, n: number, ack: readonly number[]): Promise<void> {
  const t = await NatsTransport.connect({ servers: server().url });
  const seen = await firstValueFrom(t.consume(options).pipe(take(n), toArray()));
  for (const m of seen) if (ack.includes(m.seq)) m.ack();
  await t.flush();
  t.nc.close().catch(() => undefined); // no drain: a crash
  await t.nc.closed();
}

async function firstSeqs(t: NatsTransport, options: ConsumeOptions, n: number): Promise<number[]> {
  const seen: StreamMessage[] = await firstValueFrom(t.consume(options).pipe(take(n), toArray()));
  for (const m of seen) m.ack();
  return seen.map((m) => m.seq);
}

async function setUp(t: NatsTransport, count: number): Promise<string> {
  const stream = uniqueName('ORDER').toUpperCase();
  await t.ensureStream({ name: stream, subjects: [`${stream}.>`] });
  for (let i = 1; i <= count; i++) await t.publishDurable(`${stream}.in`, bytes(i));
  return stream;
}

describe('durable consumer restart (nats-server)', () => {
  it('without re-reading, a restarted reader gets newer messages before the ones a crash left unacked', async () => {
    const t = await NatsTransport.connect({ servers: server().url });
    try {
      const stream = await setUp(t, 10);
      const options = { stream, durableName: 'd', ackWaitMs: 30_000, reReadUnackedWithinMs: 0 };
      await crashingReader(options, 10, [3, 5, 7]);
      for (let i = 11; i <= 13; i++) await t.publishDurable(`${stream}.in`, bytes(i));
      // The unacked 1, 2, 4, 6, 8, 9, 10 are held back until their 30 s ack wait: 11 overtakes them.
      expect(await firstSeqs(t, options, 3)).toEqual([11, 12, 13]);
    } finally {
      await t.close();
    }
  });

  it('re-reads from the ack floor: the unacked messages come first, in stream order, then the newer ones', async () => {
    const t = await NatsTransport.connect({ servers: server().url });
    try {
      const stream = await setUp(t, 10);
      const options = { stream, durableName: 'd', ackWaitMs: 30_000, reReadUnackedWithinMs: 60_000 };
      await crashingReader(options, 10, [1, 2, 3, 5, 7]);
      for (let i = 11; i <= 13; i++) await t.publishDurable(`${stream}.in`, bytes(i));
      // Floor 3: 4.. again, 5 and 7 as duplicates.
      expect(await firstSeqs(t, options, 10)).toEqual([4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
      const jsm = await t.jsm();
      // Acks are processed by the server after the request that sent them returns.
      await waitUntil(async () => (await jsm.consumers.info(stream, 'd')).num_ack_pending === 0);
      const info = await jsm.consumers.info(stream, 'd');
      expect({
        ackPending: info.num_ack_pending,
        floor: info.ack_floor.stream_seq,
        ackWait: info.config.ack_wait,
        maxAckPending: info.config.max_ack_pending,
      }).toEqual({ ackPending: 0, floor: 13, ackWait: 30_000_000_000, maxAckPending: 1000 });
      expect((await jsm.consumers.list(stream).next()).map((c) => c.name)).toEqual(['d']); // no restart mark left
    } finally {
      await t.close();
    }
  });

  it('keeps the filter subject of the consumer it moves', async () => {
    const t = await NatsTransport.connect({ servers: server().url });
    try {
      const stream = uniqueName('ORDER').toUpperCase();
      await t.ensureStream({ name: stream, subjects: [`${stream}.>`] });
      for (let i = 1; i <= 8; i++) await t.publishDurable(`${stream}.${i % 2 === 0 ? 'even' : 'odd'}`, bytes(i));
      const options = { stream, durableName: 'd', filterSubject: `${stream}.even`, ackWaitMs: 30_000, reReadUnackedWithinMs: 60_000 };
      await crashingReader(options, 4, [2]);
      expect(await firstSeqs(t, options, 3)).toEqual([4, 6, 8]);
    } finally {
      await t.close();
    }
  });

  it('resumes from the restart mark when a crash came between deleting and recreating the consumer', async () => {
    const t = await NatsTransport.connect({ servers: server().url });
    try {
      const stream = await setUp(t, 10);
      const jsm = await t.jsm();
      // What a move leaves when it dies after the delete: only the mark, at 6.
      await jsm.consumers.add(stream, {
        durable_name: restartMarkName('d'),
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: 6,
      });
      expect(await firstSeqs(t, { stream, durableName: 'd', reReadUnackedWithinMs: 60_000 }, 5)).toEqual([6, 7, 8, 9, 10]);
      expect((await jsm.consumers.list(stream).next()).map((c) => c.name)).toEqual(['d']);
    } finally {
      await t.close();
    }
  });

  it("leaves a work-queue stream's consumer where it is (the stream refuses the restart mark)", async () => {
    const t = await NatsTransport.connect({ servers: server().url });
    try {
      const stream = uniqueName('ORDER').toUpperCase();
      const jsm = await t.jsm();
      await jsm.streams.add({ name: stream, subjects: [`${stream}.>`], retention: RetentionPolicy.Workqueue });
      for (let i = 1; i <= 5; i++) await t.publishDurable(`${stream}.in`, bytes(i));
      const options = { stream, durableName: 'd', ackWaitMs: 30_000, reReadUnackedWithinMs: 60_000 };
      await crashingReader(options, 5, [1]);
      await t.publishDurable(`${stream}.in`, bytes(6));
      expect(await firstSeqs(t, options, 1)).toEqual([6]);
      expect((await jsm.consumers.list(stream).next()).map((c) => c.name)).toEqual(['d']);
    } finally {
      await t.close();
    }
  });

  it('does not move a consumer another reader is pulling from', async () => {
    const t = await NatsTransport.connect({ servers: server().url });
    const other = await NatsTransport.connect({ servers: server().url });
    try {
      const stream = await setUp(t, 10);
      const options = { stream, durableName: 'd', ackWaitMs: 30_000, reReadUnackedWithinMs: 60_000 };
      await crashingReader({ ...options, maxInFlight: 4 }, 4, [1]);
      // A live instance restarts first (and moves the consumer back to 2): it holds 2..10 unacked and keeps pulling.
      const held: StreamMessage[] = [];
      const sub = other.consume(options).subscribe((m) => held.push(m));
      await waitUntil(async () => held.length === 9);
      expect(held.map((m) => m.seq)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10]);
      const jsm = await t.jsm();
      const before = await jsm.consumers.info(stream, 'd');
      // A second instance starts: the consumer has unacked deliveries, but `other` is pulling.
      const second = t.consume(options).subscribe();
      await waitUntil(async () => (await jsm.consumers.info(stream, 'd')).num_waiting >= 2);
      const after = await jsm.consumers.info(stream, 'd');
      expect({ created: after.created, ackPending: after.num_ack_pending, held: held.length }).toEqual({ created: before.created, ackPending: 9, held: 9 });
      second.unsubscribe();
      sub.unsubscribe();
    } finally {
      await other.close();
      await t.close();
    }
  });
});

describe('shouldReRead', () => {
  const at = Date.parse('2026-01-01T00:00:00Z');
  const info = (ackPending: number, waiting: number, lastActive: string) => ({
    num_ack_pending: ackPending,
    num_waiting: waiting,
    delivered: { consumer_seq: 1, stream_seq: 1, last_active: lastActive as unknown as number },
  });
  it('only with unacked deliveries, no other reader, and a last delivery within the window', () => {
    expect(shouldReRead(info(1, 0, '2026-01-01T00:00:00Z'), 60_000, at + 59_999)).toBe(true);
    expect(shouldReRead(info(1, 0, '2026-01-01T00:00:00Z'), 60_000, at + 60_000)).toBe(false);
    expect(shouldReRead(info(0, 0, '2026-01-01T00:00:00Z'), 60_000, at)).toBe(false);
    expect(shouldReRead(info(1, 1, '2026-01-01T00:00:00Z'), 60_000, at)).toBe(false);
    expect(shouldReRead(info(1, 0, '2026-01-01T00:00:00Z'), 0, at)).toBe(false);
  });
});

async function waitUntil(cond: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
