import { Svcm } from '@nats-io/services';
import { pino } from 'pino';
import { NEVER } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { settleMap } from '../../../operators/settle-map.js';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import { defineTopology } from '../../../src/runtime/define-topology.js';
import type { PartStats } from '../../../src/observe/part-stats.js';
import { runTopology } from '../../../src/runtime/run-topology.js';
import { serviceSubject } from '../../../src/runtime/serve-topology-service.js';
import type { TopologyStats } from '../../../src/runtime/topology-stats.js';
import { NatsTransport } from '../../../src/transport/nats/nats-transport.js';
import ordersLedger, { STREAMS, SUBJECTS, type Order } from '../../helpers/orders-ledger.js';
import { uniqueName, useNatsServer } from '../../helpers/nats-server.js';
import { useTempDir } from '../../helpers/temp-dir.js';
import { until } from '../../helpers/until.js';

const server = useNatsServer();
const stateDir = useTempDir('stats');

async function askStats(client: NatsTransport, topology: string): Promise<TopologyStats> {
  const res = await client.request(serviceSubject(topology, 'stats'), new Uint8Array(), { timeoutMs: 5000 });
  return JSON.parse(new TextDecoder().decode(res.data)) as TopologyStats;
}

const part = (stats: TopologyStats, name: string): PartStats => {
  const found = stats.parts.find((p) => p.name === name);
  if (found === undefined) throw new Error(`no part '${name}' in ${stats.parts.map((p) => p.name).join(', ')}`);
  return found;
};

describe('stats for every part (real nats-server)', () => {
  it('orders-ledger: pipelines, the stream, sinks, microBatch, the actor and the durable batch each report in one shape', { timeout: 60_000 }, async () => {
    const transport = await NatsTransport.connect({ servers: server().url });
    const client = await NatsTransport.connect({ servers: server().url });
    await client.ensureStream({ name: STREAMS.analytics, subjects: [SUBJECTS.analytics] });
    const run = await runTopology(ordersLedger, { transport, logger: pino({ level: 'silent' }), stateDir: stateDir() });
    try {
      const orders: Order[] = Array.from({ length: 30 }, (_, i) => ({ orderId: `o-${i}`, sku: `SKU-${i % 3}`, quantity: 1, totalCents: 100 + i }));
      await until(async () => (await askStats(client, 'orders-ledger')).parts.every((p) => p.state !== 'starting'), {
        what: 'actor and durable batch started',
      });
      for (const o of orders) await client.publishDurable(`shop.orders.${o.orderId}`, msgpackCodec.encode(o));
      await client.publishDurable('shop.orders.bad', new Uint8Array([0xc1])); // 0xc1 is never valid MessagePack
      await until(
        async () => {
          const s = await askStats(client, 'orders-ledger');
          return part(s, 'actor stock').in >= 30 && part(s, 'microBatch').out >= 30;
        },
        { what: 'orders handled by the actor and the micro-batch' },
      );
      await client.publishDurable(SUBJECTS.endOfDay, msgpackCodec.encode({ day: '2026-12-04' }));
      await until(
        async () => (await askStats(client, 'orders-ledger')).parts.some((p) => p.name === 'durable-batch daily-ledger' && p.batches === 1 && p.outbox === 0),
        { what: 'the day flushed' },
      );
      await until(async () => part(await askStats(client, 'orders-ledger'), `stream ${STREAMS.orders}`).lag === 0, { what: 'orders read' });

      const stats = await askStats(client, 'orders-ledger');
      // Everything as before is still there.
      expect(stats).toMatchObject({
        topology: 'orders-ledger',
        received: expect.any(Object),
        published: expect.any(Object),
        deadLetters: 1,
        unsettledOutputs: 0,
      });
      expect(stats.uptimeMs).toBeGreaterThan(0);
      // One shape: every field present on every part (null where it does not apply).
      for (const p of stats.parts) {
        expect(
          Object.keys(p)
            .filter((k) => k !== 'detail')
            .sort(),
        ).toEqual([
          'actors',
          'batches',
          'deadLetters',
          'in',
          'inPerSec',
          'kind',
          'lag',
          'lastBatchSize',
          'maxBatchSize',
          'name',
          'out',
          'outPerSec',
          'outbox',
          'state',
          'unsettled',
        ]);
      }
      expect(stats.parts.filter((p) => p.kind === 'pipeline').map((p) => p.name)).toEqual(['pipeline 1', 'pipeline 2', 'pipeline 3']);
      expect(part(stats, `stream ${STREAMS.orders}`)).toMatchObject({
        kind: 'stream',
        state: 'running',
        in: 31,
        out: 30,
        deadLetters: 1,
        unsettled: 0,
        lag: 0,
      });
      expect(part(stats, 'microBatch')).toMatchObject({ kind: 'operator', in: 30, out: 30, lastBatchSize: expect.any(Number) });
      expect(part(stats, 'microBatch').batches).toBeGreaterThanOrEqual(1);
      expect(part(stats, 'microBatch').maxBatchSize).toBeLessThanOrEqual(30);
      expect(part(stats, `sink ${SUBJECTS.analytics}`)).toMatchObject({
        kind: 'sink',
        in: part(stats, 'microBatch').batches,
        out: part(stats, 'microBatch').batches,
        unsettled: 0,
      });
      expect(part(stats, 'sink actor-stock')).toMatchObject({ kind: 'sink', in: 30, out: 30, unsettled: 0, detail: { failures: 0 } });
      const actor = part(stats, 'actor stock');
      expect(actor).toMatchObject({ kind: 'actor', state: 'running', in: 30, out: 30, deadLetters: 0, lag: 0, outbox: 0, actors: 3 });
      expect(actor.batches).toBeGreaterThanOrEqual(1);
      expect(actor.maxBatchSize).toBeGreaterThanOrEqual(actor.lastBatchSize!);
      expect(actor.detail).toMatchObject({ handled: 30, position: 30 });
      // 30 values, then the trigger: one batch of 30, one ledger chunk.
      expect(part(stats, 'durable-batch daily-ledger')).toMatchObject({
        kind: 'durable-batch',
        state: 'running',
        in: 31,
        out: 1,
        batches: 1,
        lastBatchSize: 30,
        maxBatchSize: 30,
        outbox: 0,
        lag: 0,
        actors: null,
      });
      expect(part(stats, `stream ${STREAMS.stockEvents}`)).toMatchObject({ in: 30, out: 30, lag: 0 });
      expect(stats.totals).toMatchObject({ deadLetters: 1, unsettled: 0, lag: 0 });
      expect(stats.totals.in).toBeGreaterThanOrEqual(31);
      expect(stats.health).toBe('degraded');
      expect(stats.problems).toEqual([expect.stringMatching(/^1 dead letter in the last \d+ s$/)]);

      // $SRV discovery finds the same answer, as the stats endpoint's data.
      const found: Array<{ name: string; data: unknown }> = [];
      for await (const s of await new Svcm(client.nc).client({ strategy: 'stall', maxWait: 2000 }).stats('sluice-orders-ledger')) {
        for (const e of s.endpoints ?? []) if (e.data !== null && e.data !== undefined) found.push({ name: e.name, data: e.data });
      }
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({ name: 'stats', data: { topology: 'orders-ledger', totals: { deadLetters: 1 } } });
      expect((found[0]!.data as TopologyStats).parts.map((p) => p.name)).toEqual(stats.parts.map((p) => p.name));
    } finally {
      await run.stop();
      await client.close();
    }
  });

  it("lag is the consumer's num_pending and unsettled what the stream holds: a stage that never finishes holds maxUnsettled", { timeout: 30_000 }, async () => {
    const name = uniqueName('lag').replace(/_/g, '-');
    const stream = name.toUpperCase().replace(/-/g, '_');
    const transport = await NatsTransport.connect({ servers: server().url });
    const client = await NatsTransport.connect({ servers: server().url });
    const run = await runTopology(
      defineTopology(name, (t) => t.stream<number>(stream, `${name}.in`, { maxUnsettled: 3 }).pipe(settleMap({ name: 'stuck', project: () => NEVER }))),
      { transport, logger: pino({ level: 'silent' }), drainTimeoutMs: 200 },
    );
    try {
      await transport.ensureStream({ name: stream, subjects: [`${name}.in`] });
      for (let i = 0; i < 10; i++) await client.publishDurable(`${name}.in`, msgpackCodec.encode(i));
      await until(async () => part(await askStats(client, name), `stream ${stream}`).lag === 7, { what: 'lag 7' });
      const stats = await askStats(client, name);
      expect(part(stats, `stream ${stream}`)).toMatchObject({ in: 3, out: 3, unsettled: 3, lag: 7 });
      expect(part(stats, 'settleMap stuck')).toMatchObject({ kind: 'operator', in: 3, out: 0, unsettled: 3, detail: { failures: 0 } });
      expect(stats.totals).toMatchObject({ unsettled: 3, lag: 7 });
      expect(stats.health).toBe('ok');
    } finally {
      await run.stop();
      await client.close();
    }
  });
});
