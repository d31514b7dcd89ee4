import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { msgpackCodec } from '../../src/codec/msgpack-codec.js';
import { describeTopology, formatTopologyDescription } from '../../src/runtime/describe-topology.js';
import { runTopology } from '../../src/runtime/run-topology.js';
import { NatsTransport } from '../../src/transport/nats-transport.js';
import type { Transport } from '../../src/transport/transport.js';
import hybrid, { INITIAL_UNITS, STREAMS, SUBJECTS, type LedgerChunk, type Order, type OrderBatchSummary, type StockEvent } from '../../topologies/hybrid-orders.js';
import { startTestDriver } from '../../src/testing/index.js';
import { useNatsServer } from '../helpers/nats-server.js';
import { readStream } from '../helpers/read-stream.js';
import { until } from '../helpers/until.js';

const server = useNatsServer();
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const count = async (transport: Transport, stream: string) => (await transport.streamState(stream).catch(() => ({ messages: 0 }))).messages;

async function readAll<T>(transport: Transport, stream: string): Promise<T[]> {
  if ((await count(transport, stream)) === 0) return [];
  return (await readStream(transport, stream)).map((m) => msgpackCodec.decode(m.data) as T);
}

describe('hybrid-orders: real-time, near-real-time and batch on one stream', () => {
  it('describe states a guarantee for every path', () => {
    const text = formatTopologyDescription(describeTopology(hybrid));
    expect(text).toContain('SHOP_ORDERS (shop.orders.>) -> sluice.actor.hybrid-orders.stock.*.tell  exactly-once');
    expect(text).toContain('actor stock -> shop.stock.>  exactly-once');
    expect(text).toContain('SHOP_STOCK_EVENTS (shop.stock.>) -> shop.alerts.low-stock  at-least-once');
    expect(text).toMatch(/SHOP_ORDERS \(shop\.orders\.>\) -> analytics\.orders\.batch {2}(at-least-once|exactly-once)/);
    expect(text).toContain('durable-batch daily-ledger -> finance.ledger.daily  exactly-once');
    expect(text).toContain('OPS (ops.end-of-day) -> sluice.batch.hybrid-orders.daily-ledger.in, sluice.batch.hybrid-orders.daily-ledger.trigger  exactly-once');
  });

  it('reserves per SKU, summarises in micro-batches and writes the day ledger on end of day', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'sluice-hybrid-'));
    dirs.push(stateDir);
    const transport = await NatsTransport.connect({ servers: server().url });
    await transport.ensureStream({ name: STREAMS.orders, subjects: [SUBJECTS.orders] });
    await transport.ensureStream({ name: STREAMS.analytics, subjects: [SUBJECTS.analytics] });
    const orders: Order[] = [];
    for (let i = 1; i <= 60; i++) orders.push({ orderId: `o${i}`, sku: `sku-${i % 3}`, quantity: 1, totalCents: i * 100 });
    for (const o of orders) await transport.publishDurable(`shop.orders.web`, msgpackCodec.encode(o));

    const alerts: unknown[] = [];
    transport.subscribe(SUBJECTS.lowStock).subscribe((m) => alerts.push(msgpackCodec.decode(m.data)));
    const run = await runTopology(hybrid, { transport, logger: pino({ level: 'silent' }), report: () => undefined, closeTransport: false, service: false, stateDir });
    await until(async () => (await count(transport, STREAMS.stockEvents)) === 60 && (await count(transport, `SLUICE_BATCH_hybrid-orders_daily-ledger`)) === 60);
    await transport.publishDurable('ops.end-of-day', msgpackCodec.encode({ day: '2026-12-04' }));
    await until(async () => (await count(transport, STREAMS.finance)) === 1);
    await until(async () => (await readAll<OrderBatchSummary>(transport, STREAMS.analytics)).reduce((n, s) => n + s.orders, 0) === 60, { timeoutMs: 15_000 });
    await run.stop();

    const events = await readAll<StockEvent>(transport, STREAMS.stockEvents);
    const reserved = events.filter((e) => e.type === 'reserved');
    expect(reserved).toHaveLength(60); // 20 orders of 1 unit per SKU, 20 units each
    expect(Math.min(...reserved.map((e) => e.available))).toBe(INITIAL_UNITS - 20);
    // Each SKU's last two reservations leave 1 and 0 units... and the one before 2.
    expect(alerts).toHaveLength(9);
    const summaries = await readAll<OrderBatchSummary>(transport, STREAMS.analytics);
    expect(summaries.reduce((n, s) => n + s.totalCents, 0)).toBe(orders.reduce((n, o) => n + o.totalCents, 0));
    const [chunk] = await readAll<LedgerChunk>(transport, STREAMS.finance);
    expect(chunk).toMatchObject({ batch: 1, from: 0 });
    expect(chunk!.lines.map((l) => l.orderId).sort()).toEqual(orders.map((o) => o.orderId).sort());
    await transport.close();
  }, 60_000);
});

describe('hybrid-orders in the test driver (in-process transport, no broker)', () => {
  it('runs the actor, the micro-batch and the durable batch', async () => {
    const driver = await startTestDriver(hybrid);
    try {
      for (let i = 1; i <= 24; i++) driver.input<Order>('shop.orders.web').publish({ orderId: `o${i}`, sku: 'sku-1', quantity: 1, totalCents: 100 });
      const deadline = Date.now() + 20_000;
      const reserved: StockEvent[] = [];
      while (reserved.length < 24 && Date.now() < deadline) {
        reserved.push(...(await driver.output<StockEvent>('shop.stock.>').readAll()));
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(reserved.filter((e) => e.type === 'reserved')).toHaveLength(INITIAL_UNITS);
      expect(reserved.filter((e) => e.type === 'rejected')).toHaveLength(24 - INITIAL_UNITS);
      driver.input('ops.end-of-day').publish({ day: 'today' });
      const ledger: LedgerChunk[] = [];
      while (ledger.length === 0 && Date.now() < deadline) {
        ledger.push(...(await driver.output<LedgerChunk>(SUBJECTS.ledger).readAll()));
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(ledger[0]?.lines).toHaveLength(24);
    } finally {
      await driver.stop();
    }
  }, 30_000);
});
