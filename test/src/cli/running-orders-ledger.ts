import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import { runTopology, type RunningTopology } from '../../../src/runtime/run-topology.js';
import { NatsTransport } from '../../../src/transport/nats/nats-transport.js';
import ordersLedger, { INITIAL_UNITS, STREAMS, SUBJECTS, type Order } from '../../helpers/orders-ledger.js';
import type { NatsServerHandle } from '../../helpers/nats-server.js';
import { until } from '../../helpers/until.js';

/** The orders {@link useRunningOrdersLedger} sends: 30 orders over 3 SKUs, quantities 1-2. */
export const ORDERS: readonly Order[] = Array.from({ length: 30 }, (_, i) => ({
  orderId: `o-${i}`,
  sku: `SKU-${i % 3}`,
  quantity: 1 + (i % 2),
  totalCents: 500 + i,
}));

/** What the stock actor must hold for `sku` after {@link ORDERS}. */
export function expectedAvailable(sku: string): number {
  return ORDERS.filter((o) => o.sku === sku).reduce((left, o) => (o.quantity <= left ? left - o.quantity : left), INITIAL_UNITS);
}

/**
 * test/helpers/orders-ledger.ts running in this process on `server` (the commands under test run
 * as child processes against it), fed {@link ORDERS} and one undecodable message, and settled:
 * the actor has handled every order and every order is acknowledged.
 */
export function useRunningOrdersLedger(server: () => NatsServerHandle): () => RunningTopology {
  let run: RunningTopology | undefined;
  let dir: string | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-ops-'));
    const transport = await NatsTransport.connect({ servers: server().url });
    await transport.ensureStream({ name: STREAMS.analytics, subjects: [SUBJECTS.analytics] });
    await transport.ensureStream({ name: STREAMS.orders, subjects: [SUBJECTS.orders] });
    run = await runTopology(ordersLedger, { transport, logger: pino({ level: 'silent' }), stateDir: dir });
    const client = await NatsTransport.connect({ servers: server().url });
    try {
      for (const o of ORDERS) await client.publishDurable(`shop.orders.${o.orderId}`, msgpackCodec.encode(o));
      await client.publishDurable('shop.orders.bad', new Uint8Array([0xc1]));
    } finally {
      await client.close();
    }
    const part = (name: string) =>
      run!.stats
        .parts()
        .find((p) => p.name === name)!
        .read();
    // The micro-batch holds its orders up to 5 s: settled means that batch is out too.
    await until(() => part('actor stock').in === ORDERS.length && part('actor stock').outbox === 0 && part(`stream ${STREAMS.orders}`).unsettled === 0, {
      what: 'the stock actor handled every order and every order settled',
    });
  }, 60_000);
  afterAll(async () => {
    await run?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });
  return () => {
    if (run === undefined) throw new Error('useRunningOrdersLedger: not started');
    return run;
  };
}
