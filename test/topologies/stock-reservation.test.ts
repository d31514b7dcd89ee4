import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { firstValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { askActor, queryActorState } from '../../src/actors/actor-client.js';
import { createActorProcessor, timerKey } from '../../src/actors/actor-processor.js';
import { startActor } from '../../src/actors/start-actor.js';
import type { ActorDeadLetter, StoredTimer } from '../../src/actors/types.js';
import { msgpackCodec } from '../../src/codec/msgpack-codec.js';
import { runTopology } from '../../src/runtime/run-topology.js';
import { openStateStore } from '../../src/state/open-state-store.js';
import { LocalTransport } from '../../src/transport/local-transport.js';
import { NatsTransport } from '../../src/transport/nats-transport.js';
import type { Transport } from '../../src/transport/transport.js';
import stockTopology, { STREAMS, SUBJECTS, stockReservation, type SkuStock } from '../../topologies/stock-reservation.js';
import { startTestNatsServer, uniqueName, useNatsServer } from '../helpers/nats-server.js';
import { TRANSPORT_KINDS, useTransport } from '../helpers/transports.js';
import { FakeStore, streamMessage } from '../src/actors/fake-txn.js';
import { retryUntilOk } from '../helpers/until.js';

describe('stockReservation (fake engine)', () => {
  const topology = 'shop';
  const setup = () => {
    const store = new FakeStore();
    const p = createActorProcessor(stockReservation({ holdMs: 60_000, lowStockThreshold: 2 }), { topology });
    let seq = 0;
    const send = (subject: string, data: unknown) => store.run(p.process, [streamMessage({ subject, seq: ++seq, data })]);
    const fire = (t: StoredTimer) =>
      store.run(p.process, [streamMessage({ subject: p.subjects.timer(t.key), seq: ++seq, data: { timerId: t.timerId, instance: t.instance, dueAt: t.dueAt, payload: t.payload } })]);
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
    expect((events('sluice.dlq.shop.stock') as ActorDeadLetter[]).map((d) => d.error.name)).toEqual(['InvalidActorKeyError', 'TerminalError', 'TerminalError']);
    expect(events(SUBJECTS.low)).toEqual([{ sku: 'X', available: 1, threshold: 2 }]);
  });
});

const server = useNatsServer();

describe.each(TRANSPORT_KINDS)('stockReservation (real engine, LMDB) on the %s transport', (kind) => {
  const openedTransport = useTransport(kind, server);

  it('reserves over askActor, expires holds by timer, and publishes stock events exactly once', async () => {
    const transport = openedTransport();
    const topology = uniqueName('shop');
    const dir = mkdtempSync(join(tmpdir(), 'sluice-stock-'));
    const store = openStateStore({ dir, topology, noSync: true });
    await transport.ensureStream({ ...STREAMS.output, storage: 'memory' });
    const running = await startActor(stockReservation({ holdMs: 300, lowStockThreshold: 2 }), {
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

describe('stock-reservation topology (sluice run)', () => {
  it.each(TRANSPORT_KINDS)('runs under runTopology on the %s transport and drains cleanly', async (kind) => {
    const srv = kind === 'nats' ? await startTestNatsServer() : undefined;
    const dir = mkdtempSync(join(tmpdir(), 'sluice-stock-run-'));
    try {
      const t: Transport = srv !== undefined ? await NatsTransport.connect({ servers: srv.url }) : new LocalTransport();
      process.env['SLUICE_STATE_DIR'] = dir;
      const warnings: string[] = [];
      const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push((JSON.parse(line) as { msg: string }).msg) });
      const run = await runTopology(stockTopology, { transport: t, logger, report: () => {} });
      // On NATS a second connection, as another service would use; in-process there is only one.
      const client: Transport = srv !== undefined ? await NatsTransport.connect({ servers: srv.url }) : t;
      try {
        await retryUntilOk(() => client.publishDurable(SUBJECTS.restock, msgpackCodec.encode({ sku: 'SCARF', quantity: 20 })));
        const reply = await askActor(client, { topology: 'stock-reservation', actor: 'stock' }, 'SCARF', { orderId: 'o9', sku: 'SCARF', quantity: 3 }, { timeoutMs: 5_000 });
        expect(reply).toEqual({ ok: true, available: 17 });
        expect((await run.stop()).reason).toBe('stopped');
        expect(warnings.filter((m) => m.startsWith('durability off: in-process transport'))).toHaveLength(kind === 'local' ? 1 : 0);
      } finally {
        if (client !== t) await client.close();
      }
    } finally {
      delete process.env['SLUICE_STATE_DIR'];
      await srv?.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

