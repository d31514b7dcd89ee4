import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, describe, expect, it } from 'vitest';
import { msgpackCodec } from '../../src/codec/msgpack-codec.js';
import { NatsTransport } from '../../src/transport/nats/nats-transport.js';
import { createOrderGenerator } from '../../demo/order-generator.js';
import {
  STREAMS,
  SUBJECTS,
  type OrderStatusChanged,
  type OrderUpdate,
  type PreferenceChange,
  type PreferenceSyncChunk,
} from '../../topologies/hybrid-orders.js';
import { useNatsServer } from '../helpers/nats-server.js';
import { readStream } from '../helpers/read-stream.js';
import { until } from '../helpers/until.js';
import { crashSeed, mulberry32 } from './crash-child.js';
import { streamsHandedOver } from './streams-handed-over.js';
import { startChild, type Child } from './topology-crash.js';
import type { TopologyChildConfig } from './topology-child.js';
import { waitForKillPoint } from './wait-for-kill-point.js';

/*
 * The exactly-once parts of topologies/hybrid-orders.ts under real crashes: the real topology runs
 * in a child process (topology-child.ts) over a real nats-server and is SIGKILLed at seeded random
 * moments — while the order-status actor works through orders and updates, while the carrier file
 * is imported, while the preference batch fills, and just after "end of day" (during the flush) —
 * and restarted each time. Then every order has exactly the status events of a run without
 * crashes, each carrier line was imported once, and each preference change was synced once.
 * Reproduce a run with SLUICE_CRASH_SEED=<seed> (printed).
 */

const server = useNatsServer();
const FIXTURE = join(import.meta.dirname, 'topologies', 'hybrid-orders.ts');
const ORDERS = 300;
const CHANGES = 200;
const dir = mkdtempSync(join(tmpdir(), 'sluice-hybrid-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('hybrid-orders under SIGKILL of the processor', () => {
  it('status events, the carrier import and the nightly preference sync are exactly once', { timeout: 180_000 }, async () => {
    const seed = crashSeed();
    const rnd = mulberry32(seed);
    const timeline: string[] = [];
    const client = await NatsTransport.connect({ servers: server().url });
    const cfg: TopologyChildConfig = { url: server().url, fixture: FIXTURE, params: { dir } };
    const children: Child[] = [];
    const launch = async (): Promise<Child> => {
      const child = startChild(cfg);
      children.push(child);
      await child.ready;
      if (child.proc.exitCode !== null) throw new Error(`the child did not start: ${child.stderr()}`);
      return child;
    };
    const inputStreams = [STREAMS.orders, STREAMS.preferences, STREAMS.ops];
    const jsm = await jetstreamManager(client.nc);
    const killAfter = async (child: Child, received: number, why: string): Promise<void> => {
      // An earlier run may have left fewer inputs than the target: then the kill comes once they
      // are all handed over (the analytics batch acknowledges its orders within its 5 s maxWait).
      const point = await waitForKillPoint(
        child,
        () => child.progress().received >= received,
        () => streamsHandedOver(jsm, inputStreams),
      );
      const extraMs = Math.floor(rnd() * 30);
      if (point === 'target') await new Promise((r) => setTimeout(r, extraMs));
      child.proc.kill('SIGKILL');
      await child.exited;
      timeline.push(
        `killed ${why} after ${child.progress().received} received (target ${received}${point === 'target' ? '' : `, ${point}`}), ${await handedOver()} handed over`,
      );
    };
    // Where a kill landed: the orders and updates in the status actor's stream, the changes in the preference batch's.
    const handedOver = async (): Promise<string> => {
      const [status, batch] = await Promise.all(
        ['SLUICE_ACTOR_hybrid-orders_order-status', 'SLUICE_BATCH_hybrid-orders_nightly-preferences'].map((s) =>
          client.streamState(s).then(
            (i) => i.messages,
            () => 0,
          ),
        ),
      );
      return `${status} orders and updates, ${batch} preference changes`;
    };
    try {
      await client.ensureStream({ name: STREAMS.orders, subjects: [SUBJECTS.orders, SUBJECTS.updates] });
      await client.ensureStream({ name: STREAMS.preferences, subjects: [SUBJECTS.preferences] });
      await client.ensureStream({ name: STREAMS.ops, subjects: [SUBJECTS.endOfDay, SUBJECTS.fileReceived] });
      // The model: every order placed then paid; every third shipped, and delivered by the carrier file.
      const orders = createOrderGenerator({ seed: 7, now: () => 1_000 });
      const expected = new Map<string, string[]>();
      for (let i = 1; i <= ORDERS; i++) {
        const o = orders.next();
        await client.publishDurable(`shop.orders.${o.channel}`, msgpackCodec.encode(o));
        await client.publishDurable(
          'shop.order-updates.paid',
          msgpackCodec.encode({ orderId: o.orderId, status: 'paid', at: 2_000, source: 'payments' } satisfies OrderUpdate),
        );
        expected.set(o.orderId, ['placed', 'paid']);
        if (i % 3 === 0) {
          await client.publishDurable(
            'shop.order-updates.shipped',
            msgpackCodec.encode({ orderId: o.orderId, status: 'shipped', at: 3_000, source: 'warehouse' } satisfies OrderUpdate),
          );
          expected.get(o.orderId)!.push('shipped', 'delivered');
        }
      }
      const delivered = [...expected].filter(([, s]) => s.includes('delivered')).map(([id]) => id);
      mkdirSync(join(dir, 'inbox'), { recursive: true });
      writeFileSync(
        join(dir, 'inbox', 'deliveries.ndjson'),
        delivered.map((orderId) => JSON.stringify({ orderId, status: 'delivered', at: 9_000 })).join('\n'),
      );
      await client.publishDurable(SUBJECTS.fileReceived, msgpackCodec.encode({ kind: 'carrier-deliveries', name: 'deliveries.ndjson' }));
      const changes: PreferenceChange[] = Array.from({ length: CHANGES }, (_, i) => ({
        customerId: `P${i % 37}`,
        ...(i % 2 === 0 ? { marketingEmails: i % 4 === 0 } : { language: `l${i}` }),
        changedAt: i,
      }));
      for (const c of changes) await client.publishDurable(SUBJECTS.preferences, msgpackCodec.encode(c));
      const inputs = ORDERS * 2 + ORDERS / 3 + CHANGES + 1;

      // Three kills while orders, updates, the import and the preferences are worked through.
      for (let k = 1; k <= 3; k++) await killAfter(await launch(), 1 + Math.floor(rnd() * (inputs / 3)), `run ${k}`);
      let child = await launch();
      const batchIn = async () => (await readStream(client, 'SLUICE_BATCH_hybrid-orders_nightly-preferences')).filter((m) => m.subject.endsWith('.in')).length;
      await until(async () => (await batchIn()) === CHANGES, { timeoutMs: 60_000, what: 'every preference change in the batch' });
      // End of day, and a kill during the flush.
      await client.publishDurable(SUBJECTS.endOfDay, msgpackCodec.encode({ by: 'operations' }));
      await new Promise((r) => setTimeout(r, Math.floor(rnd() * 300)));
      child.proc.kill('SIGKILL');
      await child.exited;
      timeline.push('killed just after end of day');
      child = await launch();

      const statusCount = [...expected.values()].reduce((n, s) => n + s.length, 0);
      const synced = async () => (await readStream(client, STREAMS.crmSync)).map((m) => msgpackCodec.decode(m.data) as PreferenceSyncChunk);
      await until(
        async () =>
          (await client.streamState(STREAMS.status).catch(() => ({ messages: 0 }))).messages >= statusCount &&
          (await synced().catch(() => [])).reduce((n, c) => n + c.changes, 0) >= CHANGES,
        {
          timeoutMs: 120_000,
          what: 'every status event and the preference sync',
        },
      ).catch(async (err: unknown) => {
        const status = (await client.streamState(STREAMS.status).catch(() => ({ messages: -1 }))).messages;
        throw new Error(
          `${String(err)} (seed ${seed}; ${timeline.join('; ')}; status ${status} of ${statusCount}; synced ${JSON.stringify((await synced().catch(() => [])).map((c) => [c.batch, c.from, c.changes]))}; child: ${JSON.stringify(child.progress())} ${child.stderr().slice(-3000)})`,
        );
      });
      child.proc.kill('SIGTERM');
      expect((await child.exited).code, child.stderr()).toBe(0);
      console.log(`hybrid-orders crash test: seed ${seed}; ${timeline.join('; ')}`);

      // 1. Order status: exactly the model's events per order, in order (none lost, none twice).
      const events = (await readStream(client, STREAMS.status)).map((m) => ({ subject: m.subject, data: msgpackCodec.decode(m.data) as OrderStatusChanged }));
      expect(events.filter((e) => e.subject.endsWith('.rejected'))).toEqual([]);
      const got = new Map<string, string[]>();
      for (const e of events) got.set(e.data.orderId, [...(got.get(e.data.orderId) ?? []), e.data.status]);
      expect(got).toEqual(expected);
      // 4. The carrier import: each line once in the orders stream.
      const imported = (await readStream(client, STREAMS.orders))
        .map((m) => msgpackCodec.decode(m.data) as OrderUpdate)
        .filter((u) => u.source === 'carrier-file:deliveries.ndjson');
      expect(imported.map((u) => u.orderId).sort()).toEqual([...delivered].sort());
      // 3. The nightly sync: one batch, each change once, and applying the chunks in order gives the final preferences.
      const chunks = await synced();
      expect(chunks.map((c) => [c.batch, c.from])).toEqual([[1, 0]]);
      expect(chunks.reduce((n, c) => n + c.changes, 0)).toBe(CHANGES);
      const final = new Map<string, object>();
      for (const { changedAt: _at, ...c } of changes) final.set(c.customerId, { ...final.get(c.customerId), ...c });
      expect(new Map(chunks.flatMap((c) => c.customers).map((c) => [c.customerId, c]))).toEqual(final);
    } finally {
      for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
      await client.close();
    }
  });
});
