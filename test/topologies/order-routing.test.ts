import fc from 'fast-check';
import { pino } from 'pino';
import { VirtualAction, VirtualTimeScheduler } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeEnvelope } from '../../src/codec/decode-envelope.js';
import { jsonCodec } from '../../src/codec/json-codec.js';
import type { Envelope } from '../../src/envelope/envelope.js';
import { runTopology } from '../../src/runtime/run-topology.js';
import { startTestDriver, type TopologyTestDriver } from '../../src/testing/index.js';
import { LocalTransport } from '../../src/transport/local/local-transport.js';
import { NatsTransport } from '../../src/transport/nats/nats-transport.js';
import { createOrderFeed } from '../../demo/order-feed.js';
import { createOrderGenerator, type Order } from '../../demo/order-generator.js';
import orderRouting, { HIGH_VALUE_CENTS, isPriority, orderSubject, SUBJECTS } from '../../topologies/order-routing.js';
import { useNatsServer } from '../helpers/nats-server.js';

const drivers: TopologyTestDriver[] = [];
afterEach(async () => {
  await Promise.all(drivers.splice(0).map((d) => d.stop()));
});

async function routingOnly(): Promise<TopologyTestDriver> {
  const driver = await startTestDriver(orderRouting);
  drivers.push(driver);
  return driver;
}

const order = (over: Partial<Order> = {}): Order => ({
  orderId: 'O-1',
  customerId: 'C000001',
  channel: 'web',
  country: 'GB',
  currency: 'GBP',
  shipping: 'standard',
  lines: [{ sku: 'TEE-BLK-M', quantity: 1, unitPriceCents: 1999 }],
  totalCents: 1999,
  placedAt: 0,
  ...over,
});

describe('order generator', () => {
  it('is deterministic for a seed and produces consistent orders', () => {
    const a = createOrderGenerator({ seed: 7, now: () => 0 });
    const b = createOrderGenerator({ seed: 7, now: () => 0 });
    const orders = Array.from({ length: 2000 }, () => a.next());
    expect(Array.from({ length: 2000 }, () => b.next())).toEqual(orders);
    for (const o of orders) {
      expect(o.totalCents).toBe(o.lines.reduce((s, l) => s + l.quantity * l.unitPriceCents, 0));
      expect(o.lines.length).toBeGreaterThanOrEqual(1);
    }
    // Realistic mix: both queues get a real share.
    const priority = orders.filter(isPriority).length / orders.length;
    expect(priority).toBeGreaterThan(0.1);
    expect(priority).toBeLessThan(0.5);
    expect(new Set(orders.map((o) => o.channel)).size).toBe(4);
  });
});

describe('order-routing (test driver)', () => {
  it('routes express and high-value orders to priority, the rest to standard', async () => {
    const driver = await routingOnly();
    const express = order({ orderId: 'E', shipping: 'express' });
    const big = order({ orderId: 'B', channel: 'mobile', totalCents: HIGH_VALUE_CENTS });
    const small = order({ orderId: 'S', channel: 'store', totalCents: HIGH_VALUE_CENTS - 1 });
    for (const o of [express, big, small]) driver.input<Order>(orderSubject(o.channel)).publish(o);
    expect(await driver.output<Order>(SUBJECTS.priority).readAll()).toEqual([express, big]);
    expect(await driver.output<Order>(SUBJECTS.standard).readAll()).toEqual([small]);
  });

  it('forwards the original bytes and content type (JSON in, JSON out)', async () => {
    const driver = await routingOnly();
    driver.input<Order>('shop.orders.web').publish(order(), { codec: jsonCodec });
    const [out] = await driver.output<Order>(SUBJECTS.standard).readEnvelopes();
    expect(out?.headers['Content-Type']).toBe('application/json');
    expect(out?.data).toEqual(order());
  });

  it('dead-letters malformed and non-order messages with their bytes, and keeps routing', async () => {
    const driver = await routingOnly();
    const garbage = new Uint8Array([0x92, 0x01]);
    driver.input('shop.orders.web').publishBytes(garbage);
    driver.input('shop.orders.mobile').publish({ hello: 'world' });
    driver.input<Order>('shop.orders.web').publish(order());
    expect(await driver.output(SUBJECTS.standard).readAll()).toHaveLength(1);
    const dead = await driver.deadLetters();
    expect(dead.map((d) => [d.subject, d.error.name, d.operator])).toEqual([
      ['shop.orders.web', 'DecodeError', 'source:shop.orders.*'],
      ['shop.orders.mobile', 'PayloadSchemaError', 'source:shop.orders.*'],
    ]);
    expect([...dead[0]!.payload]).toEqual([...garbage]);
    expect(dead[1]!.error.message).toContain("subject 'shop.orders.mobile'");
    expect(dead[1]!.error.message).toMatch(/orderId: expected string/);
  });

  it('property: every order lands in exactly one queue, the one isPriority picks, in order', async () => {
    const driver = await routingOnly();
    await fc.assert(
      fc.asyncProperty(fc.integer(), fc.integer({ min: 0, max: 60 }), async (seed, count) => {
        const gen = createOrderGenerator({ seed, now: () => 0 });
        const orders = Array.from({ length: count }, () => gen.next());
        // One input subject keeps one publish order (channels are separate subjects).
        for (const o of orders) driver.input<Order>('shop.orders.web').publish(o);
        const priority = await driver.output<Order>(SUBJECTS.priority).readAll();
        const standard = await driver.output<Order>(SUBJECTS.standard).readAll();
        expect(priority).toEqual(orders.filter(isPriority));
        expect(standard).toEqual(orders.filter((o) => !isPriority(o)));
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 50) },
    );
  });
});

describe('order-routing fed by the demo order feed', () => {
  it('routes everything the feed generated, at exactly its rate in virtual time', async () => {
    // Virtual time makes the rate exact and immune to a busy machine; flush() runs 1 s of it.
    const scheduler = new VirtualTimeScheduler(VirtualAction, 1000);
    const transport = new LocalTransport({ scheduler });
    const options = { transport, logger: pino({ level: 'silent' }), scheduler, closeTransport: false };
    const routing = await runTopology(orderRouting, options);
    const feed = await runTopology(createOrderFeed({ ratePerSec: 2000, seed: 3 }), options);
    scheduler.flush();
    await transport.flush();
    // As `sluice run` does: the driver stops first, so the topology drains what it published.
    const fed = await feed.stop();
    const exit = await routing.stop();
    await transport.close();
    const generated = Object.entries(fed.stats.published)
      .filter(([s]) => s.startsWith('shop.orders.'))
      .reduce((n, [, c]) => n + c, 0);
    const priority = exit.stats.published[SUBJECTS.priority] ?? 0;
    const routed = priority + (exit.stats.published[SUBJECTS.standard] ?? 0);
    expect(generated).toBe(2000);
    expect(routed).toBe(generated);
    expect(exit.stats.received).toEqual(Object.fromEntries(Object.entries(fed.stats.published).filter(([s]) => s.startsWith('shop.orders.'))));
    // The generator's mix gives both queues a real share.
    expect(priority / routed).toBeGreaterThan(0.1);
    expect(priority / routed).toBeLessThan(0.5);
    expect(exit.stats.deadLetters).toBe(0);
  });
});

describe('order-routing on a real nats-server', () => {
  const server = useNatsServer();

  it('routes orders published by another client', async () => {
    const transport = await NatsTransport.connect({ servers: server().url });
    const run = await runTopology(orderRouting, { transport, logger: pino({ level: 'silent' }) });
    const client = await NatsTransport.connect({ servers: server().url });
    try {
      const got: Envelope<Uint8Array>[] = [];
      const sub = client.subscribe('shop.fulfilment.*').subscribe((e) => got.push(e));
      await client.flush();
      const orders = [order({ orderId: 'A', shipping: 'express' }), order({ orderId: 'B' }), order({ orderId: 'C', totalCents: 90_000 })];
      await transport.flush(); // the topology's subscription is registered
      for (const o of orders) client.publish(orderSubject(o.channel), jsonCodec.encode(o), { headers: { 'Content-Type': 'application/json' } });
      await client.flush();
      for (let i = 0; i < 100 && got.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
      sub.unsubscribe();
      expect(got.map((e) => [e.subject, (decodeEnvelope(e).data as Order).orderId])).toEqual([
        [SUBJECTS.priority, 'A'],
        [SUBJECTS.standard, 'B'],
        [SUBJECTS.priority, 'C'],
      ]);
      // Dead letters are kept in a JetStream stream on a real server.
      expect((await transport.streamState('SLUICE_DLQ_order-routing')).messages).toBe(0);
    } finally {
      await run.stop();
      await client.close();
    }
  });
});
