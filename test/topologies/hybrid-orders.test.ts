import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { msgpackCodec } from '../../src/codec/msgpack-codec.js';
import { decodeDeadLetter } from '../../src/dead-letter/encode-dead-letter.js';
import { describeTopology, formatTopologyDescription } from '../../src/runtime/describe-topology.js';
import { runTopology, type RunningTopology } from '../../src/runtime/run-topology.js';
import { NatsTransport } from '../../src/transport/nats/nats-transport.js';
import type { Transport } from '../../src/transport/transport.js';
import hybrid, {
  createHybridOrders,
  STREAMS,
  SUBJECTS,
  type Order,
  type OrderBatchSummary,
  type OrderStatusChanged,
  type OrderStatusRejected,
  type OrderUpdate,
  type PreferenceChange,
  type PreferenceSyncChunk,
} from '../../topologies/hybrid-orders.js';
import { startTestDriver } from '../../src/testing/index.js';
import { useNatsServer } from '../helpers/nats-server.js';
import { readStream } from '../helpers/read-stream.js';
import { until } from '../helpers/until.js';

const server = useNatsServer();
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDir = (prefix: string): string => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};

const count = async (transport: Transport, stream: string) => (await transport.streamState(stream).catch(() => ({ messages: 0 }))).messages;

async function readAll<T>(transport: Transport, stream: string): Promise<Array<{ subject: string; data: T }>> {
  if ((await count(transport, stream)) === 0) return [];
  return (await readStream(transport, stream)).map((m) => ({ subject: m.subject, data: msgpackCodec.decode(m.data) as T }));
}

const order = (orderId: string, customerId: string, o: Partial<Order> = {}): Order => ({
  orderId,
  customerId,
  channel: 'web',
  country: 'GB',
  currency: 'GBP',
  shipping: 'standard',
  lines: [{ sku: 'TEE-BLK-M', quantity: 1, unitPriceCents: 1_999 }],
  totalCents: 1_999,
  placedAt: 1_000,
  ...o,
});
const update = (orderId: string, status: OrderUpdate['status'], at: number): OrderUpdate => ({ orderId, status, at, source: 'payments' });

async function start(transport: Transport, options: { inboxDir: string; scheduler?: SchedulerLike }): Promise<RunningTopology> {
  const run = await runTopology(createHybridOrders({ inboxDir: options.inboxDir }), {
    transport,
    logger: pino({ level: 'silent' }),
    report: () => undefined,
    closeTransport: false,
    service: false,
    stateDir: tempDir('sluice-hybrid-state-'),
    scheduler: options.scheduler,
  });
  await until(() => run.stats.parts().every((p) => p.read().state !== 'starting'), { what: 'actor and durable batch started' });
  return run;
}

describe('hybrid-orders: each part of the mix over a real nats-server', () => {
  it('describe states a guarantee for every path', () => {
    const text = formatTopologyDescription(describeTopology(hybrid));
    expect(text).toContain('SHOP_ORDERS (shop.orders.*, shop.order-updates.*) -> sluice.actor.hybrid-orders.order-status.*.tell  exactly-once');
    expect(text).toContain('actor order-status -> shop.order-status.>  exactly-once');
    expect(text).toMatch(/SHOP_ORDERS \(shop\.orders\.\*, shop\.order-updates\.\*\) -> analytics\.orders\.batch {2}at-least-once/);
    expect(text).toContain('CRM_PREFERENCES (crm.preferences.changed) -> sluice.batch.hybrid-orders.nightly-preferences.in');
    expect(text).toContain('durable-batch nightly-preferences -> crm.preferences.nightly  exactly-once');
    expect(text).toMatch(/schedule:nightly-preferences -> ops\.end-of-day {2}\S+/);
    expect(text).toMatch(/OPS \(ops\.files\.received\) -> shop\.order-updates\.\* {2}exactly-once/);
    expect(text).toMatch(/OPS \(ops\.end-of-day\) -> sluice\.batch\.hybrid-orders\.nightly-preferences\.in.* {2}exactly-once/);
  });

  it('1 real-time: one status event per change, in order per order; updates that do not follow are rejected', { timeout: 60_000 }, async () => {
    const transport = await NatsTransport.connect({ servers: server().url });
    const run = await start(transport, { inboxDir: tempDir('sluice-inbox-') });
    try {
      const sent: Array<[string, Order | OrderUpdate]> = [
        ['shop.orders.web', order('A', 'C1')],
        ['shop.order-updates.paid', update('A', 'paid', 2_000)],
        ['shop.order-updates.shipped', update('A', 'shipped', 3_000)],
        ['shop.orders.mobile', order('B', 'C2', { channel: 'mobile' })],
        ['shop.order-updates.cancelled', update('B', 'cancelled', 2_500)],
        ['shop.order-updates.shipped', update('B', 'shipped', 2_600)], // after a cancel: rejected
        ['shop.order-updates.paid', update('C', 'paid', 900)], // before its order: applied, the order fills in the customer
        ['shop.orders.web', order('C', 'C3')],
        ['shop.order-updates.paid', update('C', 'paid', 950)], // twice: rejected
      ];
      for (const [subject, value] of sent) await transport.publishDurable(subject, msgpackCodec.encode(value));
      // 9 inputs, 8 events: C's order, after its payment, only fills in the customer.
      await until(async () => (await count(transport, STREAMS.status)) === 8, { what: '8 status events' });
      const events = await readAll<OrderStatusChanged | OrderStatusRejected>(transport, STREAMS.status);
      const of = (id: string) =>
        events
          .filter((e) => e.data.orderId === id)
          .map((e) => `${e.subject.slice('shop.order-status.'.length)}${'previous' in e.data ? ` from ${e.data.previous}` : ` (was ${e.data.current})`}`);
      expect(of('A')).toEqual(['placed from none', 'paid from placed', 'shipped from paid']);
      expect(of('B')).toEqual(['placed from none', 'cancelled from placed', 'rejected (was cancelled)']);
      expect(of('C')).toEqual(['paid from none', 'rejected (was paid)']);
      expect(events.find((e) => e.data.orderId === 'A' && e.subject.endsWith('.shipped'))!.data).toEqual({
        orderId: 'A',
        customerId: 'C1',
        status: 'shipped',
        previous: 'paid',
        at: 3_000,
        source: 'payments',
      });
    } finally {
      await run.stop();
      await transport.close();
    }
  });

  it('2 near-real-time: analytics summaries count every order once, revenue per currency and orders per channel', { timeout: 60_000 }, async () => {
    const transport = await NatsTransport.connect({ servers: server().url });
    await transport.ensureStream({ name: STREAMS.orders, subjects: [SUBJECTS.orders, SUBJECTS.updates] });
    const orders = Array.from({ length: 1_500 }, (_, i) =>
      order(`N${i}`, `C${i % 7}`, { channel: i % 3 === 0 ? 'store' : 'web', currency: i % 2 === 0 ? 'GBP' : 'EUR', totalCents: 100 + i, placedAt: 10_000 + i }),
    );
    for (const o of orders) await transport.publishDurable(`shop.orders.${o.channel}`, msgpackCodec.encode(o));
    // Summaries of earlier tests' orders (the server is shared) are not this test's.
    const earlier = (await readAll<OrderBatchSummary>(transport, STREAMS.analytics)).length;
    const ours = async () => (await readAll<OrderBatchSummary>(transport, STREAMS.analytics)).slice(earlier).map((s) => s.data);
    const run = await start(transport, { inboxDir: tempDir('sluice-inbox-') });
    try {
      await until(async () => (await ours()).reduce((n, s) => n + s.orders, 0) >= 1_500, { timeoutMs: 30_000, what: 'summaries of 1500 orders' });
      const summaries = await ours();
      expect(summaries.reduce((n, s) => n + s.orders, 0)).toBe(1_500);
      // 1000 orders or 5 s: the backlog comes out in full batches first.
      expect(summaries[0]!.orders).toBe(1_000);
      const sum = (pick: (s: OrderBatchSummary) => number | undefined) => summaries.reduce((n, s) => n + (pick(s) ?? 0), 0);
      expect(sum((s) => s.revenueCents.GBP)).toBe(orders.filter((o) => o.currency === 'GBP').reduce((n, o) => n + o.totalCents, 0));
      expect(sum((s) => s.revenueCents.EUR)).toBe(orders.filter((o) => o.currency === 'EUR').reduce((n, o) => n + o.totalCents, 0));
      expect(sum((s) => s.byChannel.store)).toBe(500);
      expect(Math.min(...summaries.map((s) => s.firstPlacedAt))).toBe(10_000);
      expect(Math.max(...summaries.map((s) => s.lastPlacedAt))).toBe(11_499);
    } finally {
      await run.stop();
      await transport.close();
    }
  });

  it('3 batch: preference changes wait for "end of day", then sync once, merged per customer', { timeout: 60_000 }, async () => {
    const transport = await NatsTransport.connect({ servers: server().url });
    const run = await start(transport, { inboxDir: tempDir('sluice-inbox-') });
    try {
      const changes: PreferenceChange[] = [
        { customerId: 'P1', marketingEmails: true, changedAt: 1 },
        { customerId: 'P2', language: 'de-DE', changedAt: 2 },
        { customerId: 'P1', smsAlerts: false, changedAt: 3 },
        { customerId: 'P1', marketingEmails: false, changedAt: 4 },
      ];
      const before = await count(transport, STREAMS.crmSync);
      for (const c of changes) await transport.publishDurable(SUBJECTS.preferences, msgpackCodec.encode(c));
      await until(async () => (await count(transport, 'SLUICE_BATCH_hybrid-orders_nightly-preferences')) >= changes.length, {
        what: 'changes held in the batch',
      });
      expect(await count(transport, STREAMS.crmSync)).toBe(before); // nothing synced before the day ends
      await transport.publishDurable(SUBJECTS.endOfDay, msgpackCodec.encode({ by: 'operations' }));
      await until(async () => (await count(transport, STREAMS.crmSync)) === before + 1, { what: 'the sync chunk' });
      const chunk = (await readAll<PreferenceSyncChunk>(transport, STREAMS.crmSync)).at(-1)!.data;
      expect(chunk).toMatchObject({ from: 0, changes: 4 });
      expect(chunk.customers).toEqual([
        { customerId: 'P1', marketingEmails: false, smsAlerts: false },
        { customerId: 'P2', language: 'de-DE' },
      ]);
    } finally {
      await run.stop();
      await transport.close();
    }
  });

  it('3 batch: the 02:00 London schedule closes the batch by itself (a clock set to just before 02:00)', { timeout: 60_000 }, async () => {
    const transport = await NatsTransport.connect({ servers: server().url });
    // 01:59:58 London on a winter day (GMT = UTC): the schedule's next run is 2 s away in real time.
    const offsetMs = Date.UTC(2026, 0, 15, 1, 59, 58) - Date.now();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- bind() loses schedule's overloads
    const clock: SchedulerLike = { now: () => Date.now() + offsetMs, schedule: asyncScheduler.schedule.bind(asyncScheduler) as SchedulerLike['schedule'] };
    const run = await start(transport, { inboxDir: tempDir('sluice-inbox-'), scheduler: clock });
    try {
      const before = (await readAll<PreferenceSyncChunk>(transport, STREAMS.crmSync)).length;
      await transport.publishDurable(
        SUBJECTS.preferences,
        msgpackCodec.encode({ customerId: 'S1', language: 'fr-FR', changedAt: 5 } satisfies PreferenceChange),
      );
      await until(async () => (await count(transport, STREAMS.crmSync)) === before + 1, { timeoutMs: 20_000, what: 'the nightly sync at 02:00' });
      const closes = (await readAll<{ by: string; scheduledAt: number }>(transport, STREAMS.ops)).filter(
        (m) => m.subject === SUBJECTS.endOfDay && m.data.by === 'schedule',
      );
      expect(closes.map((c) => c.data.scheduledAt)).toEqual([Date.UTC(2026, 0, 15, 2, 0, 0)]);
      expect((await readAll<PreferenceSyncChunk>(transport, STREAMS.crmSync)).at(-1)!.data.customers).toEqual([{ customerId: 'S1', language: 'fr-FR' }]);
    } finally {
      await run.stop();
      await transport.close();
    }
  });

  it('4 file received: the carrier file becomes order updates once; a bad line is dead-lettered and the rest imported', { timeout: 60_000 }, async () => {
    const transport = await NatsTransport.connect({ servers: server().url });
    const inboxDir = tempDir('sluice-inbox-');
    const run = await start(transport, { inboxDir });
    try {
      for (const [subject, value] of [
        ['shop.orders.web', order('F1', 'C9')],
        ['shop.order-updates.shipped', update('F1', 'shipped', 5_000)],
        ['shop.orders.web', order('F2', 'C9')],
      ] as const)
        await transport.publishDurable(subject, msgpackCodec.encode(value));
      writeFileSync(
        join(inboxDir, 'deliveries-1.ndjson'),
        [
          JSON.stringify({ orderId: 'F1', status: 'delivered', at: 9_000 }),
          '{"orderId": "F2", "status": "lost"}',
          JSON.stringify({ orderId: 'F2', status: 'delivered', at: 9_100 }),
          '',
        ].join('\n'),
      );
      const dlqBefore = await count(transport, 'SLUICE_DLQ_hybrid-orders');
      await transport.publishDurable(SUBJECTS.fileReceived, msgpackCodec.encode({ kind: 'carrier-deliveries', name: 'deliveries-1.ndjson' }));
      await until(
        async () =>
          (await readAll<OrderStatusChanged>(transport, STREAMS.status)).filter((e) => e.data.orderId.startsWith('F') && e.subject.endsWith('.delivered'))
            .length === 2,
        { what: 'F1 and F2 delivered' },
      );
      // Order is per key (each order is its own actor); across F1 and F2 the two deliveries may land either way round.
      const f = (await readAll<OrderStatusChanged>(transport, STREAMS.status)).filter((e) => e.data.orderId.startsWith('F'));
      const byOrder = (id: string) => f.filter((e) => e.data.orderId === id).map((e) => `${e.data.status} from ${e.data.previous} via ${e.data.source}`);
      expect(byOrder('F1')).toEqual([
        'placed from none via shop',
        'shipped from placed via payments',
        'delivered from shipped via carrier-file:deliveries-1.ndjson',
      ]);
      expect(byOrder('F2')).toEqual(['placed from none via shop', 'delivered from placed via carrier-file:deliveries-1.ndjson']);
      await until(async () => (await count(transport, 'SLUICE_DLQ_hybrid-orders')) === dlqBefore + 1, { what: 'the bad line dead-lettered' });
      const dead = (await readStream(transport, 'SLUICE_DLQ_hybrid-orders')).map((m) => decodeDeadLetter(m.data)).at(-1)!;
      expect(dead.error).toMatchObject({ name: 'CarrierLineError', message: expect.stringMatching(/^deliveries-1\.ndjson line 2: status: /) });
      expect(new TextDecoder().decode(dead.payload)).toBe('{"orderId": "F2", "status": "lost"}');
      // The import published each good line once, into the orders stream the actor reads.
      const imported = (await readAll<OrderUpdate>(transport, STREAMS.orders)).filter((m) => m.data.source === 'carrier-file:deliveries-1.ndjson');
      expect(imported).toHaveLength(2);
    } finally {
      await run.stop();
      await transport.close();
    }
  });
});

describe('hybrid-orders in the test driver (in-process transport, no broker)', () => {
  it('tracks order status and syncs preferences at end of day', { timeout: 30_000 }, async () => {
    const driver = await startTestDriver(createHybridOrders({ inboxDir: tempDir('sluice-inbox-') }));
    try {
      driver.input<Order>('shop.orders.web').publish(order('D1', 'C1'));
      driver.input<OrderUpdate>('shop.order-updates.paid').publish(update('D1', 'paid', 2_000));
      driver.input<OrderUpdate>('shop.order-updates.delivered').publish(update('D1', 'delivered', 3_000));
      driver.input<PreferenceChange>(SUBJECTS.preferences).publish({ customerId: 'C1', smsAlerts: true, changedAt: 1 });
      const status: Array<OrderStatusChanged | OrderStatusRejected> = [];
      await until(
        async () => (status.push(...(await driver.output<OrderStatusChanged | OrderStatusRejected>(SUBJECTS.status).readAll())), status.length === 3),
        { what: '3 status events' },
      );
      expect(status.map((e) => e.status)).toEqual(['placed', 'paid', 'delivered']);
      driver.input(SUBJECTS.endOfDay).publish({ by: 'operations' });
      const synced: PreferenceSyncChunk[] = [];
      await until(async () => (synced.push(...(await driver.output<PreferenceSyncChunk>(SUBJECTS.preferenceSync).readAll())), synced.length === 1), {
        what: 'the sync',
      });
      expect(synced[0]!.customers).toEqual([{ customerId: 'C1', smsAlerts: true }]);
    } finally {
      await driver.stop();
    }
  });
});
