import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { expect, it } from 'vitest';
import { msgpackCodec } from '../../src/index.js';
import { STREAMS, SUBJECTS, type ContextChanged, type CustomerContext } from '../../topologies/customer-context.js';
import { useNatsServer } from '../helpers/nats-server.js';
import { readStreamDecoded } from '../helpers/read-stream.js';
import { until } from '../helpers/until.js';
import { generateCustomerEvents, publishEvents, referenceContext } from '../topologies/customer-context-fixtures.js';
import { crashSeed, mulberry32, spawnCrashChild, type CrashChild } from './crash-child.js';
import { streamsHandedOver } from './streams-handed-over.js';
import type { ChildProgress, TopologyChildConfig } from './topology-child.js';
import { waitForKillPoint } from './wait-for-kill-point.js';

/*
 * topologies/customer-context.ts under real crashes: 2,000 orders, ticket updates and payments
 * for 8 customers are published to the three streams, the topology runs in a child process
 * (topology-child.ts) over the test's nats-server and is SIGKILLed 3 times at seeded random
 * moments (restarted after each), and the last run is asked for every customer's view with a
 * plain NATS request. Exactly-once: each view equals the reference model's (every input counted
 * once: counts, totals, last-seen times, bounded recent lists in stream order), and the change
 * feed holds one event per input (versions 1..n per customer, no gap, no repeat). Reproduce a
 * run with SLUICE_CRASH_SEED=<seed> (the result line prints it).
 */

const server = useNatsServer();
const CHILD = join(import.meta.dirname, 'topology-child.ts');
const FIXTURE = join(import.meta.dirname, 'topologies', 'customer-context.ts');

interface Child extends CrashChild {
  progress(): number;
  readonly ready: Promise<void>;
}

function startChild(cfg: TopologyChildConfig): Child {
  let received = 0;
  let ready = false;
  const child = spawnCrashChild(CHILD, cfg, (line) => {
    if (line === 'ready') ready = true;
    else if (line.startsWith('p ')) received = (JSON.parse(line.slice(2)) as ChildProgress).received;
  });
  return { ...child, progress: () => received, ready: child.when(() => ready) };
}

async function askView(nc: NatsConnection, customerId: string): Promise<CustomerContext> {
  const h = natsHeaders();
  h.set('Content-Type', msgpackCodec.contentType);
  const m = await nc.request(SUBJECTS.get, msgpackCodec.encode({ customerId }), { timeout: 2_000, headers: h });
  return msgpackCodec.decode(m.data) as CustomerContext;
}

it('SIGKILLed at random points: every input counted exactly once in the views, the change feed exactly once', async () => {
  const startedAt = Date.now();
  const seed = crashSeed();
  const rnd = mulberry32(seed);
  const inputs = 2_000;
  const kills = 3;
  const recentLimit = 10;
  const customers = Array.from({ length: 8 }, (_, i) => `c-${i}`);
  const events = generateCustomerEvents(seed, inputs, customers.length);
  const stateDir = mkdtempSync(join(tmpdir(), 'sluice-context-crash-'));
  const nc = await connect({ servers: server().url, noAsyncTraces: true, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  const jsm = await jetstreamManager(nc);
  const cfg: TopologyChildConfig = { url: server().url, fixture: FIXTURE, stateDir, params: { ackWaitMs: 2_000, recentLimit } };
  const inputStreams = [STREAMS.orders.name, STREAMS.tickets.name, STREAMS.payments.name];
  // Where a kill landed: the inputs in the actor's own stream (each once: the hand-over drops a re-read one).
  const handedOver = async (): Promise<number> => (await jsm.streams.info('SLUICE_ACTOR_customer-context_context').catch(() => undefined))?.state.messages ?? 0;
  const children: Child[] = [];
  const timeline: string[] = [];
  const launch = async (): Promise<Child> => {
    const child = startChild(cfg);
    children.push(child);
    await child.ready;
    if (child.proc.exitCode !== null) throw new Error(`the child did not start: ${child.stderr()}`);
    return child;
  };
  try {
    for (const s of [STREAMS.orders, STREAMS.tickets, STREAMS.payments])
      await jsm.streams.add({ name: s.name, subjects: [...s.subjects], storage: StorageType.File });
    await publishEvents(nc, events);

    for (let k = 1; k <= kills; k++) {
      const child = await launch();
      const target = 1 + Math.floor(rnd() * (inputs / (kills + 1)));
      // The sources read in bursts (up to 1000 a stream), so an earlier run may have left fewer
      // than the target: then the kill comes once they are all handed over to the actor.
      const point = await waitForKillPoint(
        child,
        () => child.progress() >= target,
        () => streamsHandedOver(jsm, inputStreams),
      );
      const extraMs = Math.floor(rnd() * 20);
      if (point === 'target') await new Promise((r) => setTimeout(r, extraMs));
      child.proc.kill('SIGKILL');
      const { signal } = await child.exited;
      timeline.push(
        `run ${k} ${signal} after ${child.progress()} received (target ${target}${point === 'target' ? '' : `, ${point}`}), ${await handedOver()} of ${inputs} handed over`,
      );
    }
    const last = await launch();
    const expected = new Map(customers.map((c) => [c, referenceContext(c, events, recentLimit)]));
    // Caught up when every view has applied at least its inputs (a duplicate would overshoot: compared below).
    await until(
      async () => {
        for (const c of customers) if (((await askView(nc, c).catch(() => undefined))?.version ?? -1) < expected.get(c)!.version) return false;
        return true;
      },
      { what: 'every view caught up', timeoutMs: 90_000, everyMs: 200 },
    );
    // A view commits with its change events in the outbox; they are published just after.
    await until(async () => (await jsm.streams.info(STREAMS.changes.name)).state.messages >= inputs, {
      what: 'every change event published',
      timeoutMs: 30_000,
    });
    timeline.push(`last run caught up after ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);

    const views = await Promise.all(customers.map((c) => askView(nc, c)));
    const changes = await readStreamDecoded(nc, STREAMS.changes.name, (m) => ({
      data: msgpackCodec.decode(m.data) as ContextChanged,
      msgId: m.headers?.get('Nats-Msg-Id'),
    }));
    last.proc.kill('SIGTERM');
    const { code } = await last.exited;
    console.log(
      `customer-context crash: seed ${seed}; ${inputs} inputs, ${customers.length} customers; ${kills} kills [${timeline.join('; ')}]; change events ${changes.length}; ${((Date.now() - startedAt) / 1000).toFixed(1)} s`,
    );

    for (const [i, c] of customers.entries()) expect(views[i], `view of ${c} (seed ${seed})`).toEqual(expected.get(c));
    expect(changes, `change events (seed ${seed})`).toHaveLength(inputs);
    expect(new Set(changes.map((e) => e.msgId)).size).toBe(inputs);
    for (const c of customers) {
      const versions = changes.filter((e) => e.data.customerId === c).map((e) => e.data.version);
      expect(versions, `versions of ${c} (seed ${seed})`).toEqual(Array.from({ length: expected.get(c)!.version }, (_, i) => i + 1));
    }
    expect(code).toBe(0);
  } finally {
    for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
    await nc.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}, 240_000);
