import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { msgpackCodec } from '../../src/codec/msgpack-codec.js';
import type { Topology } from '../../src/runtime/define-topology.js';
import { deadLetterSubject, REPLAYED_PART } from '../../src/dead-letter/dead-letter-subject.js';
import { replayDeadLetters } from '../../src/runtime/replay-dead-letters.js';
import { runTopology } from '../../src/runtime/run-topology.js';
import { serviceSubject } from '../../src/runtime/service-subject.js';
import { describeContract, type TopologyContract } from '../../src/runtime/topology-contract.js';
import { NatsTransport } from '../../src/transport/nats/nats-transport.js';
import { subjectMatches } from '../../src/transport/subject.js';
import hybrid from '../helpers/orders-ledger.js';
import lowStock from '../../topologies/low-stock.js';
import { createOrderGenerator } from '../../demo/order-generator.js';
import orderRouting from '../../topologies/order-routing.js';
import inventory from '../../topologies/inventory.js';
import { startTestNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { until } from '../helpers/until.js';
import { startConsumer } from './start-consumer.js';

/**
 * The wire contract checked from outside: each shipped topology runs over a real nats-server
 * while (1) a Python consumer using only Debian packages (sluice_consumer.py) decodes every output
 * and dead letter and validates it against the JSON Schema `describe --json` publishes, and
 * (2) a `>` subscriber and the stream list record what was actually used on the wire, which must
 * be exactly what the contract names.
 */
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

// The codec writes integers of 2^32 and above as float64 until the standard-MessagePack change
// lands (issue 11, item 1); from then on the consumer insists that integers arrive as integers.
const LARGE_INTEGERS_ARE_INTEGERS = [0xcf, 0xd3].includes(msgpackCodec.encode(2 ** 32 + 1)[0]!);

// JetStream's API, acks and inboxes, and the micro service discovery: protocol, not the topology's wire.
const PROTOCOL = ['$JS.>', '_INBOX.>', '$SRV.>'];

interface Scenario {
  readonly topology: Topology;
  /** Streams a deployment creates beside the topology (outputs of durable sinks). */
  readonly streams?: readonly { name: string; subjects: string[] }[];
  /** Publishes inputs, good and bad; resolves when the outputs they cause are out. */
  readonly feed: (t: NatsTransport, published: () => ReadonlySet<string>) => Promise<void>;
  /** Contract subjects this scenario cannot make appear, and why. */
  readonly notExercised?: Readonly<Record<string, string>>;
}

const pack = (v: unknown) => msgpackCodec.encode(v);
/** Waits until each subject has been used on the wire; a timeout names the ones that were not. */
async function seen(published: () => ReadonlySet<string>, subjects: readonly string[], timeoutMs = 20_000): Promise<void> {
  await until(() => subjects.every((s) => published().has(s)), { timeoutMs }).catch(() => {
    throw new Error(`never published: ${subjects.filter((s) => !published().has(s)).join(', ')}`);
  });
}

const scenarios: Scenario[] = [
  {
    topology: orderRouting,
    feed: async (t, published) => {
      const orders = createOrderGenerator({ seed: 3 });
      for (let i = 0; i < 40; i++) {
        const order = orders.next();
        t.publish(`shop.orders.${order.channel}`, pack(order), { headers: { 'Content-Type': 'application/msgpack' } });
      }
      t.publish('shop.orders.web', pack({ hello: 'world' }), { headers: { 'Content-Type': 'application/msgpack' } });
      await seen(published, ['shop.fulfilment.priority', 'shop.fulfilment.standard', 'sluice.dlq.order-routing']);
    },
  },
  {
    topology: inventory,
    feed: async (t, published) => {
      const send = (subject: string, v: unknown) => t.publishDurable(subject, pack(v), { headers: { 'Content-Type': 'application/msgpack' } });
      await send('shop.stock.restock', { sku: 'TEE', quantity: 6 });
      await send('shop.stock.reserve', { orderId: 'o1', sku: 'TEE', quantity: 2 });
      await send('shop.stock.reserve', { orderId: 'o2', sku: 'TEE', quantity: 3 });
      await send('shop.stock.reserve', { orderId: 'o3', sku: 'TEE', quantity: 5 });
      await send('shop.stock.confirm', { orderId: 'o1', sku: 'TEE' });
      await send('shop.stock.cancel', { orderId: 'o2', sku: 'TEE' });
      await send('shop.stock.reserve', { orderId: 'o4', sku: 'TEE', quantity: -1 });
      await send('shop.stock.confirm', { orderId: 'o5', sku: 'TEE' });
      await seen(published, [
        'shop.stock.reserved',
        'shop.stock.rejected',
        'shop.stock.sold',
        'shop.stock.released',
        'shop.stock.low',
        'sluice.dlq.inventory.stock',
      ]);
      const query = await t.request('shop.stock.query', new TextEncoder().encode(JSON.stringify({ sku: 'TEE' })), {
        timeoutMs: 5_000,
        headers: { 'Content-Type': 'application/json' },
      });
      expect(JSON.parse(new TextDecoder().decode(query.data))).toEqual({ sku: 'TEE', onHand: 4, held: 0, holds: 0, available: 4 });
    },
    notExercised: {
      'sluice.dlq.inventory': 'the actor dead-letters on its own subject; nothing in this topology uses the runtime one',
    },
  },
  {
    topology: lowStock,
    feed: async (t, published) => {
      for (const level of [
        { sku: 'A', onHand: 2 },
        { sku: 'B', onHand: 9 },
        { sku: 5, onHand: 'none' },
      ])
        t.publish('shop.stock.levels', pack(level), { headers: { 'Content-Type': 'application/msgpack' } });
      await seen(published, ['shop.stock.low', 'sluice.dlq.low-stock']);
    },
  },
  {
    topology: hybrid,
    streams: [{ name: 'ANALYTICS', subjects: ['analytics.orders.batch'] }],
    feed: async (t, published) => {
      const headers = { 'Content-Type': 'application/msgpack' };
      for (let i = 1; i <= 23; i++)
        await t.publishDurable('shop.orders.web', pack({ orderId: `o${i}`, sku: 'sku-1', quantity: 1, totalCents: 100 * i }), { headers });
      await t.publishDurable('shop.orders.web', pack({ orderId: 'bad', sku: 'sku-1', quantity: 'one', totalCents: 1 }), { headers });
      await seen(published, ['shop.stock.reserved', 'shop.stock.rejected', 'shop.alerts.low-stock', 'sluice.dlq.orders-ledger']);
      await t.publishDurable('ops.end-of-day', pack({ day: '2026-12-04' }), { headers });
      await seen(published, ['finance.ledger.daily', 'analytics.orders.batch']);
    },
    notExercised: {
      'sluice.dlq.orders-ledger.stock': 'orders are validated before the actor, so it has nothing to dead-letter',
      'sluice.dlq.orders-ledger.daily-ledger': "the ledger's flush does not throw",
    },
  },
];

describe('the wire contract, checked from another language over a real nats-server', () => {
  it.each(scenarios.map((s) => [s.topology.name, s] as const))(
    '%s: every output and dead letter decodes and matches its published schema; the subjects used are the ones described',
    async (_name, scenario) => {
      // A broker of its own: streams another topology left behind would capture this one's subjects.
      const broker = await startTestNatsServer();
      try {
        await checkScenario(scenario, broker);
      } finally {
        await broker.dispose();
      }
    },
    90_000,
  );
});

async function checkScenario(scenario: Scenario, broker: NatsServerHandle): Promise<void> {
  const server = () => broker;
  const { topology } = scenario;
  const contract: TopologyContract = describeContract(topology);
  const dir = mkdtempSync(join(tmpdir(), `sluice-conformance-${topology.name}-`));
  dirs.push(dir);
  const contractFile = join(dir, 'contract.json');
  writeFileSync(contractFile, JSON.stringify(contract));

  // Everything on the wire, by subject, and what the topology itself published.
  const observer = await connect({ servers: server().url });
  const onWire = new Set<string>();
  observer.subscribe('>', { callback: (_err, msg) => void onWire.add(msg.subject) });
  await observer.flush();
  const consumer = await startConsumer(contractFile, server().url, { strictIntegers: LARGE_INTEGERS_ARE_INTEGERS });

  const transport = await NatsTransport.connect({ servers: server().url });
  for (const s of scenario.streams ?? []) await transport.ensureStream(s);
  const run = await runTopology(topology, {
    transport,
    logger: pino({ level: process.env.CONFORMANCE_LOG ?? 'silent' }),
    report: () => undefined,
    closeTransport: false,
    stateDir: join(dir, 'state'),
  });
  try {
    // Parts create their streams as they start: inputs are published once they exist.
    const jsm = await jetstreamManager(transport.nc);
    const exists = async (name: string) =>
      jsm.streams.info(name).then(
        () => true,
        () => false,
      );
    await until(async () => (await Promise.all(contract.streams.map((s) => exists(s.name)))).every(Boolean), { what: 'the topology streams' });
    await scenario.feed(transport, () => onWire);
    // Replay the dead letters: the replayed inputs (with their replay headers) fail again and
    // are parked, and the replay markers go out; all of it must match the contract too.
    const replay = await replayDeadLetters(transport, topology.name);
    expect(replay.replayed, 'dead letters replayed').toBeGreaterThan(0);
    await seen(() => onWire, [deadLetterSubject(topology.name, REPLAYED_PART)]);
    // The micro service answers the same contract `describe --json` prints.
    const answer = await transport.nc.request(serviceSubject(topology.name, 'describe'), new Uint8Array(), { timeout: 5_000 });
    expect(answer.json()).toEqual(JSON.parse(JSON.stringify(contract)));
  } finally {
    await run.stop();
  }
  const streams = await (await jetstreamManager(transport.nc)).streams.list().next();
  await transport.close();
  await observer.drain();
  const { code, summary, stderr } = await consumer.finish();

  // 1. Every output and dead letter was valid for the other language.
  expect(summary.invalid, stderr).toEqual([]);
  expect(code, stderr).toBe(0);
  const outputs = contract.subjects.filter((s) => (s.direction === 'out' || s.direction === 'dead-letter') && !s.subject.startsWith('('));
  for (const s of outputs) {
    if (scenario.notExercised?.[s.subject] !== undefined) continue;
    const got = Object.entries(summary.received).filter(([subject]) => subjectMatches(s.subject, subject));
    expect(got.length, `the Python consumer read nothing on ${s.subject}`).toBeGreaterThan(0);
  }

  // 2. Every subject used on the wire is one the contract names (patterns included).
  const patterns = contract.subjects.map((s) => s.subject).filter((s) => !s.startsWith('('));
  const unexplained = [...onWire].filter((subject) => !PROTOCOL.some((p) => subjectMatches(p, subject)) && !patterns.some((p) => subjectMatches(p, subject)));
  expect(unexplained, 'subjects used but not described').toEqual([]);
  // ...and every output and dead-letter subject it names was used (unless the scenario says why not).
  const unused = outputs.filter((s) => scenario.notExercised?.[s.subject] === undefined && ![...onWire].some((w) => subjectMatches(s.subject, w)));
  expect(
    unused.map((s) => s.subject),
    'described but never used',
  ).toEqual([]);

  // 3. The streams that exist are the ones the contract lists, with the same subjects.
  const described = new Map(contract.streams.map((s) => [s.name, [...s.subjects].sort()]));
  const mine = streams.filter((s) => described.has(s.config.name));
  for (const s of mine) expect([...s.config.subjects].sort(), `stream ${s.config.name}`).toEqual(described.get(s.config.name));
  const relevant = streams.filter((s) => s.config.subjects.some((subject) => patterns.some((p) => subjectMatches(p, subject) || subjectMatches(subject, p))));
  expect(
    relevant.map((s) => s.config.name).filter((n) => !described.has(n)),
    'streams used but not described',
  ).toEqual([]);
}
