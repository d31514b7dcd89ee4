import { VirtualTimeScheduler } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { RequestTimeoutError, TransportError } from '../../../../src/errors.js';
import { LocalTransport } from '../../../../src/transport/local/local-transport.js';
import type { StreamMessage } from '../../../../src/transport/transport.js';
import { collect, runTransportContract } from '../transport-contract.js';

runTransportContract('LocalTransport', async () => {
  const transport = new LocalTransport({ name: 'contract' });
  return { transport, dispose: () => transport.close() };
});

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Moves virtual time forward by `ms`, running every timer due by then. */
function advance(scheduler: VirtualTimeScheduler, ms: number): void {
  scheduler.schedule(() => undefined, ms);
  scheduler.maxFrames = scheduler.now() + ms;
  scheduler.flush();
}

/** Lets queued deliveries and consumer pumps run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
}

describe('LocalTransport', () => {
  let scheduler: VirtualTimeScheduler;
  let t: LocalTransport;
  const make = (): LocalTransport => {
    scheduler = new VirtualTimeScheduler();
    t = new LocalTransport({ name: 'unit', scheduler });
    return t;
  };
  afterEach(async () => {
    await t?.close();
  });

  it('is local and not durable', () => {
    make();
    expect(t.kind).toBe('local');
    expect(t.durable).toBe(false);
  });

  describe('in virtual time', () => {
    it('forgets a msgId once the duplicate window has passed', async () => {
      make();
      await t.ensureStream({ name: 'S', subjects: ['s.>'], duplicateWindowMs: 1000 });
      expect(await t.publishDurable('s.a', enc('1'), { msgId: 'x' })).toMatchObject({ seq: 1, duplicate: false });
      advance(scheduler, 999);
      expect(await t.publishDurable('s.a', enc('1'), { msgId: 'x' })).toMatchObject({ seq: 1, duplicate: true });
      advance(scheduler, 1);
      expect(await t.publishDurable('s.a', enc('1'), { msgId: 'x' })).toMatchObject({ seq: 2, duplicate: false });
    });

    it('discards messages older than maxAgeMs', async () => {
      make();
      await t.ensureStream({ name: 'S', subjects: ['s.>'], maxAgeMs: 1000 });
      await t.publishDurable('s.a', enc('old'));
      advance(scheduler, 500);
      await t.publishDurable('s.a', enc('new'));
      advance(scheduler, 600);
      expect(await t.streamState('S')).toEqual({ messages: 1, firstSeq: 2, lastSeq: 2 });
      advance(scheduler, 1000);
      expect(await t.streamState('S')).toEqual({ messages: 0, firstSeq: 3, lastSeq: 2 });
    });

    it('redelivers exactly when ackWaitMs passes, and after a nak delay', async () => {
      make();
      await t.ensureStream({ name: 'S', subjects: ['s.>'] });
      await t.publishDurable('s.a', enc('1'));
      const seen: StreamMessage[] = [];
      const sub = t.consume({ stream: 'S', durableName: 'd', ackWaitMs: 30_000 }).subscribe((m) => seen.push(m));
      await settle();
      expect(seen.map((m) => m.deliveryCount)).toEqual([1]);
      advance(scheduler, 29_999);
      await settle();
      expect(seen).toHaveLength(1);
      advance(scheduler, 1);
      await settle();
      expect(seen.map((m) => m.deliveryCount)).toEqual([1, 2]);
      seen[1]?.nak(5000);
      advance(scheduler, 4999);
      await settle();
      expect(seen).toHaveLength(2);
      advance(scheduler, 1);
      await settle();
      expect(seen.map((m) => m.deliveryCount)).toEqual([1, 2, 3]);
      seen[0]?.ack(); // an ack of an older delivery still settles the message, as on NATS
      advance(scheduler, 60_000);
      await settle();
      expect(seen).toHaveLength(3);
      sub.unsubscribe();
    });

    it('times a request out after timeoutMs', async () => {
      make();
      const sub = t.subscribe('svc').subscribe(() => undefined);
      const reply = t.request('svc', enc('?'), { timeoutMs: 10_000 }).catch((e: unknown) => e);
      await settle();
      advance(scheduler, 10_000);
      expect(await reply).toBeInstanceOf(RequestTimeoutError);
      sub.unsubscribe();
    });
  });

  it('refuses a stream whose subjects overlap another stream', async () => {
    make();
    await t.ensureStream({ name: 'A', subjects: ['orders.>'] });
    await expect(t.ensureStream({ name: 'B', subjects: ['orders.*.created'] })).rejects.toBeInstanceOf(TransportError);
    await expect(t.ensureStream({ name: 'A', subjects: ['orders.>', 'refunds.>'] })).resolves.toBeUndefined();
  });

  it('gives every receiver its own copy of the payload', async () => {
    make();
    await t.ensureStream({ name: 'S', subjects: ['s.>'] });
    const received: Uint8Array[] = [];
    const subs = [0, 1].map(() =>
      t.subscribe('s.a').subscribe((m) => {
        received.push(m.data);
        m.data[0] = 0; // a careless receiver
      }),
    );
    const payload = enc('abc');
    t.publish('s.a', payload);
    payload[1] = 0; // a careless publisher
    await t.flush();
    expect(received.map((d) => d.length)).toEqual([3, 3]);
    expect(received[0]).not.toBe(received[1]);
    const [stored] = await collect(t.consume({ stream: 'S' }), 1);
    expect(dec(stored?.data ?? new Uint8Array())).toBe('abc');
    subs.forEach((s) => s.unsubscribe());
  });

  it('delivers asynchronously, so a handler that publishes is not re-entered', async () => {
    make();
    let depth = 0;
    let maxDepth = 0;
    const order: string[] = [];
    const sub = t.subscribe('loop').subscribe((m) => {
      depth++;
      maxDepth = Math.max(maxDepth, depth);
      order.push(dec(m.data));
      if (m.data.length < 3) t.publish('loop', enc(`${dec(m.data)}x`));
      order.push(`end ${dec(m.data)}`);
      depth--;
    });
    t.publish('loop', enc('x'));
    expect(order).toEqual([]); // nothing delivered inside publish()
    await settle();
    expect(maxDepth).toBe(1);
    expect(order).toEqual(['x', 'end x', 'xx', 'end xx', 'xxx', 'end xxx']);
    sub.unsubscribe();
  });

  it('yields to the event loop during a publish storm', async () => {
    make();
    let delivered = 0;
    const sub = t.subscribe('storm').subscribe(() => delivered++);
    for (let i = 0; i < 20_000; i++) t.publish('storm', enc('.'));
    const atFirstTurn = await new Promise<number>((resolve) => setImmediate(() => resolve(delivered)));
    expect(atFirstTurn).toBeGreaterThan(0);
    expect(atFirstTurn).toBeLessThan(20_000);
    await t.flush();
    expect(delivered).toBe(20_000);
    sub.unsubscribe();
  });

  it('shares a durable consumer between concurrent subscribers: each message to one of them', async () => {
    make();
    await t.ensureStream({ name: 'S', subjects: ['s.>'] });
    for (let i = 1; i <= 10; i++) await t.publishDurable('s.a', enc(String(i)));
    const a: number[] = [];
    const b: number[] = [];
    const subs = [
      t.consume({ stream: 'S', durableName: 'shared' }).subscribe((m) => (a.push(m.seq), m.ack())),
      t.consume({ stream: 'S', durableName: 'shared' }).subscribe((m) => (b.push(m.seq), m.ack())),
    ];
    await settle();
    expect([...a, ...b].sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(a.length).toBeGreaterThan(0);
    expect(b.length).toBeGreaterThan(0);
    subs.forEach((s) => s.unsubscribe());
  });

  it('on close, delivers what is queued, rejects pending requests and completes consumers', async () => {
    make();
    await t.ensureStream({ name: 'S', subjects: ['s.>'] });
    const got: string[] = [];
    let consumerDone = false;
    t.subscribe('q').subscribe((m) => got.push(dec(m.data)));
    t.subscribe('svc').subscribe(() => undefined);
    t.consume({ stream: 'S', durableName: 'd' }).subscribe({ complete: () => (consumerDone = true) });
    const pending = t.request('svc', enc('?'), { timeoutMs: 60_000 }).catch((e: unknown) => e);
    t.publish('q', enc('last'));
    await t.close();
    expect(got).toEqual(['last']);
    expect(await pending).toBeInstanceOf(TransportError);
    expect(consumerDone).toBe(true);
    await expect(t.ensureStream({ name: 'T', subjects: ['t'] })).rejects.toBeInstanceOf(TransportError);
  });
});
