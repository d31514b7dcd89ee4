import { mkdtempSync, rmSync } from 'node:fs';
import type { DeadLetterRecord } from '../../src/dead-letter/dead-letter-record.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { firstValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { askActor, queryActorState } from '../../src/actors/actor-client.js';
import { createActorProcessor, timerKey } from '../../src/actors/actor-processor.js';
import { startActor } from '../../src/actors/start-actor.js';
import type { StoredTimer } from '../../src/actors/types.js';
import { msgpackCodec } from '../../src/codec/msgpack-codec.js';
import { runTopology } from '../../src/runtime/run-topology.js';
import { openStateStore } from '../../src/state/open-state-store.js';
import { LocalTransport } from '../../src/transport/local/local-transport.js';
import { NatsTransport } from '../../src/transport/nats/nats-transport.js';
import type { Transport } from '../../src/transport/transport.js';
import inventoryDefault, { inventory, inventoryTopology, STOCK_ACTOR, STREAMS, SUBJECTS, type SkuStock, type StockLevel } from '../../topologies/inventory.js';
import { startTestNatsServer, uniqueName, useNatsServer } from '../helpers/nats-server.js';
import { TRANSPORT_KINDS, useTransport } from '../helpers/transports.js';
import { FakeStore, streamMessage } from '../src/actors/fake-txn.js';
import { readStream } from '../helpers/read-stream.js';
import { retryUntilOk, until } from '../helpers/until.js';

describe('inventory (fake engine)', () => {
  const topology = 'shop';
  const setup = () => {
    const store = new FakeStore();
    const p = createActorProcessor(inventory({ holdMs: 60_000, lowStockThreshold: 2 }), { topology });
    let seq = 0;
    const send = (subject: string, data: unknown) => store.run(p.process, [streamMessage({ subject, seq: ++seq, data })]);
    const fire = (t: StoredTimer) =>
      store.run(p.process, [
        streamMessage({ subject: p.subjects.timer(t.key), seq: ++seq, data: { timerId: t.timerId, instance: t.instance, dueAt: t.dueAt, payload: t.payload } }),
      ]);
    const events = (subject: string) => store.decodedOutputs(subject);
    return { store, p, send, fire, events };
  };

  it('the last unit goes to the first order; the second customer is rejected; low stock is announced once', async () => {
    const { send, events } = setup();
    await send(SUBJECTS.restock, { sku: 'TEE', quantity: 3 });
    await send(SUBJECTS.reserve, { orderId: 'o1', sku: 'TEE', quantity: 2 });
    await send(SUBJECTS.reserve, { orderId: 'o2', sku: 'TEE', quantity: 1 });
    await send(SUBJECTS.reserve, { orderId: 'o3', sku: 'TEE', quantity: 1 });
    expect(events(SUBJECTS.reserved)).toMatchObject([
      { orderId: 'o1', quantity: 2, available: 1 },
      { orderId: 'o2', quantity: 1, available: 0 },
    ]);
    expect(events(SUBJECTS.rejected)).toEqual([{ orderId: 'o3', sku: 'TEE', quantity: 1, available: 0 }]);
    expect(events(SUBJECTS.low)).toEqual([{ sku: 'TEE', available: 1, threshold: 2 }]);
  });

  it('an unconfirmed reservation is released by its durable timer; a confirmed one is sold and its timer cancelled', async () => {
    const { store, p, send, fire, events } = setup();
    await send(SUBJECTS.restock, { sku: 'CAP', quantity: 10 });
    await send(SUBJECTS.reserve, { orderId: 'o1', sku: 'CAP', quantity: 4 });
    await send(SUBJECTS.reserve, { orderId: 'o2', sku: 'CAP', quantity: 1 });
    const t1 = store.read<StoredTimer>(p.namespaces.timers, timerKey('CAP', 'hold:o1'))!;
    const t2 = store.read<StoredTimer>(p.namespaces.timers, timerKey('CAP', 'hold:o2'))!;
    await send(SUBJECTS.confirm, { orderId: 'o2', sku: 'CAP' });
    expect(store.read(p.namespaces.timers, timerKey('CAP', 'hold:o2'))).toBeUndefined();
    await fire(t1);
    await fire(t2); // cancelled: ignored
    expect(events(SUBJECTS.sold)).toEqual([{ orderId: 'o2', sku: 'CAP', quantity: 1, onHand: 9 }]);
    expect(events(SUBJECTS.released)).toEqual([{ orderId: 'o1', sku: 'CAP', quantity: 4, available: 9, reason: 'expired' }]);
    expect(store.read<{ s: SkuStock }>(p.namespaces.state, 'CAP')?.s).toEqual({ onHand: 9, holds: {}, low: false });
  });

  it('bad commands are dead-lettered and the SKU carries on', async () => {
    const { send, events } = setup();
    await send(SUBJECTS.reserve, { orderId: 'o1', quantity: 1 });
    await send(SUBJECTS.reserve, { orderId: 'o1', sku: 'X', quantity: -1 });
    await send(SUBJECTS.confirm, { orderId: 'nope', sku: 'X' });
    await send(SUBJECTS.restock, { sku: 'X', quantity: 1 });
    expect((events('sluice.dlq.shop.stock') as DeadLetterRecord[]).map((d) => d.error.name)).toEqual([
      'PayloadSchemaError',
      'PayloadSchemaError',
      'TerminalError',
    ]);
    expect(events(SUBJECTS.low)).toEqual([{ sku: 'X', available: 1, threshold: 2 }]);
  });
});

const server = useNatsServer();

describe.each(TRANSPORT_KINDS)('inventory actor (real engine, LMDB) on the %s transport', (kind) => {
  const openedTransport = useTransport(kind, server);

  it('reserves over askActor, expires holds by timer, and publishes stock events exactly once', async () => {
    const transport = openedTransport();
    const topology = uniqueName('shop');
    const dir = mkdtempSync(join(tmpdir(), 'sluice-stock-'));
    const store = openStateStore({ dir, topology, noSync: true });
    await transport.ensureStream({ ...STREAMS.output, storage: 'memory' });
    const running = await startActor(inventory({ holdMs: 300, lowStockThreshold: 2 }), {
      transport,
      store,
      stream: STREAMS.input.name,
      subjects: STREAMS.input.subjects,
      batch: { maxWaitMs: 5 },
    });
    try {
      const address = { topology, actor: 'stock' };
      await transport.publishDurable(SUBJECTS.restock, msgpackCodec.encode({ sku: 'BOOTS', quantity: 1 }));
      const first = askActor(transport, address, 'BOOTS', { op: 'reserve', orderId: 'o1', sku: 'BOOTS', quantity: 1 }, { timeoutMs: 5_000 });
      const second = askActor(transport, address, 'BOOTS', { op: 'reserve', orderId: 'o2', sku: 'BOOTS', quantity: 1 }, { timeoutMs: 5_000 });
      expect(await Promise.all([first, second])).toEqual([
        { ok: true, available: 0 },
        { ok: false, available: 0 },
      ]);
      const events = await firstValueFrom(transport.consume({ stream: STREAMS.output.name }).pipe(take(4), toArray()));
      expect(events.map((e) => [e.subject, (msgpackCodec.decode(e.data) as { orderId?: string }).orderId])).toEqual([
        [SUBJECTS.low, undefined],
        [SUBJECTS.reserved, 'o1'],
        [SUBJECTS.rejected, 'o2'],
        [SUBJECTS.released, 'o1'],
      ]);
      expect((await queryActorState<SkuStock>(transport, address, 'BOOTS', { timeoutMs: 2_000 })).state).toEqual({ onHand: 1, holds: {}, low: true });
      expect((await transport.streamState(STREAMS.output.name)).messages).toBe(4);
    } finally {
      await running.stop();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('inventory topology over a real nats-server (sluice run)', () => {
  const logger = pino({ level: 'silent' });
  const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

  /** Runs `topology` on a fresh nats-server with a client connection beside it; cleans up whatever fails. */
  const withRun = async (topology: typeof inventoryDefault, body: (client: NatsTransport, nc: NatsConnection) => Promise<void>) => {
    const srv = await startTestNatsServer();
    const dir = mkdtempSync(join(tmpdir(), 'sluice-inventory-'));
    const clients: NatsTransport[] = [];
    try {
      const run = await runTopology(topology, { transport: await NatsTransport.connect({ servers: srv.url }), logger, report: () => {}, stateDir: dir });
      const client = await NatsTransport.connect({ servers: srv.url });
      clients.push(client);
      // A plain NATS client, as a service in any language would use.
      const nc = await connect({ servers: srv.url });
      try {
        await body(client, nc);
        expect((await run.stop()).reason).toBe('stopped');
      } finally {
        await nc.close();
        await run.stop();
      }
    } finally {
      for (const c of clients) await c.close();
      await srv.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  };
  /** `shop.stock.query` over plain request/reply, JSON in and out. */
  const queryStock = async (nc: NatsConnection, sku: string): Promise<unknown> => {
    const h = headers();
    h.set('Content-Type', 'application/json');
    return JSON.parse(new TextDecoder().decode((await nc.request(SUBJECTS.query, json({ sku }), { timeout: 5_000, headers: h })).data)) as unknown;
  };
  type StockEvent = { subject: string; orderId?: string; sku: string; quantity?: number; available: number; reason?: string };
  /** The stock events so far, once at least `count` of them pass `which`. */
  const events = async (client: NatsTransport, count: number, which: (e: StockEvent) => boolean = () => true): Promise<StockEvent[]> => {
    const read = async () =>
      (await readStream(client, STREAMS.output.name)).map((m): StockEvent => ({
        subject: m.subject,
        ...(msgpackCodec.decode(m.data) as Omit<StockEvent, 'subject'>),
      }));
    await until(async () => (await read()).filter(which).length >= count, { what: `${count} stock events`, timeoutMs: 30_000, everyMs: 100 });
    return read();
  };

  it('never oversells under concurrent reservations from three clients, and the stock query answers the units held and available', async () => {
    await withRun(inventoryDefault, async (client, nc) => {
      const stock: Record<string, number> = { TEE: 10, CAP: 7 };
      for (const [sku, quantity] of Object.entries(stock))
        await retryUntilOk(() => client.publishDurable(SUBJECTS.restock, msgpackCodec.encode({ sku, quantity })));
      const senders = [client, ...(await Promise.all([1, 2].map(() => NatsTransport.connect({ servers: nc.getServer() }))))];
      const orders = Array.from({ length: 60 }, (_, i) => ({ orderId: `o${i}`, sku: i % 2 === 0 ? 'TEE' : 'CAP', quantity: 1 + (i % 3) }));
      try {
        await Promise.all(orders.map((o, i) => senders[i % 3]!.publishDurable(SUBJECTS.reserve, msgpackCodec.encode(o))));
      } finally {
        for (const s of senders.slice(1)) await s.close();
      }
      const isOutcome = (e: StockEvent) => e.subject === SUBJECTS.reserved || e.subject === SUBJECTS.rejected;
      const outcomes = (await events(client, orders.length, isOutcome)).filter(isOutcome);
      // Exactly one outcome per order.
      expect(outcomes.map((e) => e.orderId).sort()).toEqual(orders.map((o) => o.orderId).sort());

      // The reference model: each SKU's reservations in the input stream's order, first come first served.
      const left = { ...stock };
      const held: Record<string, { units: number; holds: number }> = { TEE: { units: 0, holds: 0 }, CAP: { units: 0, holds: 0 } };
      const expected = new Map<string, string>();
      for (const m of await readStream(client, STREAMS.input.name)) {
        if (m.subject !== SUBJECTS.reserve) continue;
        const o = msgpackCodec.decode(m.data) as (typeof orders)[number];
        const ok = o.quantity <= left[o.sku]!;
        expected.set(o.orderId, ok ? SUBJECTS.reserved : SUBJECTS.rejected);
        if (ok) {
          left[o.sku]! -= o.quantity;
          held[o.sku]!.units += o.quantity;
          held[o.sku]!.holds += 1;
        }
      }
      expect(new Map(outcomes.map((e) => [e.orderId!, e.subject]))).toEqual(expected);
      for (const sku of Object.keys(stock)) {
        const reserved = outcomes.filter((e) => e.sku === sku && e.subject === SUBJECTS.reserved);
        expect(reserved.reduce((n, e) => n + e.quantity!, 0)).toBeLessThanOrEqual(stock[sku]!);
        expect(reserved.every((e) => e.available >= 0)).toBe(true);
        expect(await queryStock(nc, sku)).toEqual({
          sku,
          onHand: stock[sku]!,
          held: held[sku]!.units,
          holds: held[sku]!.holds,
          available: left[sku]!,
        } satisfies StockLevel);
      }
      expect(await queryStock(nc, 'NEVER-SEEN')).toEqual({ sku: 'NEVER-SEEN', onHand: 0, held: 0, holds: 0, available: 0 });
    });
  }, 60_000);

  it('an expired hold gives its units back; a late confirmation sells nothing and is dead-lettered', async () => {
    await withRun(inventoryTopology({ holdMs: 500 }), async (client, nc) => {
      await retryUntilOk(() => client.publishDurable(SUBJECTS.restock, msgpackCodec.encode({ sku: 'MUG', quantity: 2 })));
      await client.publishDurable(SUBJECTS.reserve, msgpackCodec.encode({ orderId: 'o1', sku: 'MUG', quantity: 2 }));
      // low (2 < 5 on restock), reserved, released
      const [reserved, released] = (await events(client, 3)).filter((e) => e.subject !== SUBJECTS.low);
      expect(reserved).toMatchObject({ subject: SUBJECTS.reserved, orderId: 'o1', available: 0 });
      expect(released).toMatchObject({ subject: SUBJECTS.released, orderId: 'o1', quantity: 2, available: 2, reason: 'expired' });
      expect(await queryStock(nc, 'MUG')).toEqual({ sku: 'MUG', onHand: 2, held: 0, holds: 0, available: 2 });

      await client.publishDurable(SUBJECTS.confirm, msgpackCodec.encode({ orderId: 'o1', sku: 'MUG' }));
      const dlq = 'SLUICE_DLQ_inventory';
      await until(async () => (await client.streamState(dlq).catch(() => ({ messages: 0 }))).messages >= 1, { what: 'the dead letter' });
      const [dead] = (await readStream(client, dlq)).map((m) => ({ subject: m.subject, record: msgpackCodec.decode(m.data) as DeadLetterRecord }));
      expect(dead?.subject).toBe('sluice.dlq.inventory.stock');
      expect(dead?.record.error).toMatchObject({ name: 'TerminalError', message: expect.stringContaining("order 'o1' holds nothing of SKU 'MUG'") });
      expect(await queryStock(nc, 'MUG')).toEqual({ sku: 'MUG', onHand: 2, held: 0, holds: 0, available: 2 });
      expect((await events(client, 3)).map((e) => e.subject)).not.toContain(SUBJECTS.sold);
    });
  }, 60_000);

  it('dead-letters a command that does not match its subject schema on sluice.dlq.inventory.stock, and carries on', async () => {
    await withRun(inventoryDefault, async (client, nc) => {
      await retryUntilOk(() => client.publishDurable(SUBJECTS.reserve, msgpackCodec.encode({ orderId: 'o1', sku: 'HAT', quantity: 0 })));
      await client.publishDurable(SUBJECTS.restock, msgpackCodec.encode({ sku: 'HAT', quantity: 3 }));
      await until(async () => ((await queryStock(nc, 'HAT').catch(() => undefined)) as StockLevel | undefined)?.onHand === 3, { what: 'the restock' });
      // The dead letter leaves through the actor's outbox after the commit the query already sees.
      await until(async () => (await client.streamState('SLUICE_DLQ_inventory').catch(() => undefined))?.messages === 1, { what: 'the dead letter' });
      const [dead] = (await readStream(client, 'SLUICE_DLQ_inventory')).map((m) => ({
        subject: m.subject,
        record: msgpackCodec.decode(m.data) as DeadLetterRecord,
      }));
      expect(dead?.subject).toBe('sluice.dlq.inventory.stock');
      expect(dead?.record.error.name).toBe('PayloadSchemaError');
      expect(dead?.record.error.message).toContain('quantity');
      // A bad query is answered with an error, and is no dead letter (it changes nothing).
      const h = headers();
      h.set('Content-Type', 'application/json');
      const reply = await nc.request(SUBJECTS.query, json({ item: 'HAT' }), { timeout: 5_000, headers: h });
      expect(reply.headers?.get('Nats-Service-Error-Code')).toBe('400');
      expect((await client.streamState('SLUICE_DLQ_inventory')).messages).toBe(1);
    });
  }, 60_000);

  it('runs on the in-process transport too (no durability), answering askActor', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-inventory-local-'));
    const warnings: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push((JSON.parse(line) as { msg: string }).msg) });
    const t: Transport = new LocalTransport();
    try {
      const run = await runTopology(inventoryDefault, { transport: t, logger: log, report: () => {}, stateDir: dir });
      await retryUntilOk(() => t.publishDurable(SUBJECTS.restock, msgpackCodec.encode({ sku: 'SCARF', quantity: 20 })));
      await until(async () => (await queryActorState<SkuStock>(t, STOCK_ACTOR, 'SCARF', { timeoutMs: 2_000 }).catch(() => undefined))?.state.onHand === 20, {
        what: 'the restock',
      });
      expect(await askActor(t, STOCK_ACTOR, 'SCARF', { orderId: 'o9', sku: 'SCARF', quantity: 3 }, { timeoutMs: 5_000 })).toEqual({ ok: true, available: 17 });
      expect((await run.stop()).reason).toBe('stopped');
      expect(warnings.filter((m) => m.startsWith('durability off: in-process transport'))).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
