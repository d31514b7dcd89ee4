import { map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { fileSink } from '../../../operators/file-sink.js';
import { microBatch } from '../../../operators/micro-batch.js';
import { actor } from '../../../src/actors/actor.js';
import { actorSubjects } from '../../../src/actors/actor-subjects.js';
import { actorTopology } from '../../../src/runtime/actor-topology.js';
import { contractToAsyncApi } from '../../../src/runtime/contract-to-async-api.js';
import { deadLetterSubject } from '../../../src/dead-letter/dead-letter-subject.js';
import { defineTopology } from '../../../src/runtime/define-topology.js';
import { describeContract, type ContractSubject } from '../../../src/runtime/topology-contract.js';
import inventoryTopology, { inventory, STREAMS } from '../../../topologies/inventory.js';
import { ReservedSchema, ReserveSchema } from '../../../topologies/inventory-schemas.js';

const Order = z.object({ orderId: z.string(), sku: z.string(), placedAt: z.number().int() });
const Reserved = z.object({ orderId: z.string(), left: z.number().int() });
const counter = actor<{ n: number }, z.infer<typeof Order>>({
  name: 'counter',
  key: (e) => e.data.sku,
  initial: () => ({ n: 0 }),
  handle: (s) => ({ n: s.n + 1 }),
});

// The stock actor read straight from its input stream, as `actorTopology` runs one actor.
const stockActorTopology = actorTopology('stock', inventory(), {
  stream: STREAMS.input.name,
  subjects: STREAMS.input.subjects,
  ensureStreams: [STREAMS.output],
  schemas: { 'shop.stock.reserve': ReserveSchema, 'shop.stock.reserved': ReservedSchema },
});

const find = (subjects: readonly ContractSubject[], subject: string, direction?: string) =>
  subjects.find((s) => s.subject === subject && (direction === undefined || s.direction === direction));

describe('describeContract', () => {
  it('a pipeline: inputs and outputs with payload schemas, headers and guarantees; the runtime dead letters', () => {
    const topology = defineTopology('pipe', (t) => [
      t.source('pipe.core', { schema: Order }).pipe(t.sink('pipe.core-out', { schema: Order })),
      t.stream('PIPE', ['pipe.in.a', 'pipe.in.b'], { schema: Order }).pipe(t.sink('pipe.out', { durable: true, stream: 'PIPE_OUT', schema: Order })),
    ]);
    const c = describeContract(topology);
    expect(c.format).toBe('sluice.describe/1');
    expect(find(c.subjects, 'pipe.core')).toMatchObject({ direction: 'in', transport: 'core', guarantee: 'at-most-once', payload: { type: 'object' } });
    expect(find(c.subjects, 'pipe.in.b')).toMatchObject({
      direction: 'in',
      transport: 'jetstream',
      stream: 'PIPE',
      consumer: 'sluice_pipe_PIPE',
      guarantee: 'at-least-once',
    });
    const out = find(c.subjects, 'pipe.out')!;
    expect(out).toMatchObject({ direction: 'out', transport: 'jetstream', stream: 'PIPE_OUT', guarantee: 'exactly-once' });
    expect(out.headers.map((h) => h.name)).toEqual(['Content-Type', 'Nats-Msg-Id', 'Sluice-Event-Time', 'Sluice-Key', '*']);
    expect((out.payload!.properties as Record<string, { type: string }>)['placedAt']!.type).toBe('integer');
    expect(find(c.subjects, 'pipe.core-out')).toMatchObject({ direction: 'out', transport: 'core', guarantee: 'at-most-once' });
    expect(find(c.subjects, deadLetterSubject('pipe'))).toMatchObject({
      direction: 'dead-letter',
      stream: 'SLUICE_DLQ_pipe',
      payload: { required: expect.arrayContaining(['v', 'subject', 'payload', 'error', 'failedAt']) },
    });
    expect(c.streams).toEqual(
      expect.arrayContaining([
        { name: 'PIPE', subjects: ['pipe.in.a', 'pipe.in.b'] },
        { name: 'PIPE_OUT', subjects: ['pipe.out'] },
        { name: 'SLUICE_DLQ_pipe', subjects: ['sluice.dlq.pipe', 'sluice.dlq.pipe.>'] },
      ]),
    );
    expect(c.subjects.filter((s) => s.part === 'service').map((s) => s.subject)).toEqual([
      'sluice.svc.pipe.stats',
      'sluice.svc.pipe.describe',
      'sluice.svc.pipe.dead-letters',
      'sluice.svc.pipe.dead-letter',
      'sluice.svc.pipe.replay',
      '$SRV.>',
    ]);
  });

  it('an actor topology: its inputs, outputs, own dead letters (from actorSubjects), queries and replies', () => {
    const c = describeContract(stockActorTopology);
    const dlq = actorSubjects({ topology: 'stock', actor: 'stock' }).deadLetter;
    expect(dlq).toBe('sluice.dlq.stock.stock');
    expect(find(c.subjects, dlq)).toMatchObject({ direction: 'dead-letter', part: 'actor stock', stream: 'SLUICE_DLQ_stock' });
    expect(find(c.subjects, 'shop.stock.reserve')).toMatchObject({
      direction: 'in',
      stream: 'SHOP_STOCK',
      guarantee: 'exactly-once',
      payload: { required: ['orderId', 'sku', 'quantity'] },
    });
    const reserved = find(c.subjects, 'shop.stock.reserved')!;
    expect(reserved).toMatchObject({ direction: 'out', stream: 'SHOP_STOCK_EVENTS', guarantee: 'exactly-once' });
    expect((reserved.payload!.properties as Record<string, { type: string }>)['expiresAt']!.type).toBe('integer');
    expect(reserved.headers.find((h) => h.name === 'Nats-Msg-Id')).toMatchObject({ presence: 'always' });
    expect(find(c.subjects, 'sluice.actor.stock.stock.*', 'request')).toBeDefined();
    expect(c.subjects.filter((s) => s.direction === 'reply')).toHaveLength(1);
    expect(find(c.subjects, 'sluice.actor.stock.stock.*.timer')).toMatchObject({ direction: 'internal' });
    for (const s of c.subjects.filter((x) => x.direction === 'in' || x.direction === 'out')) expect(s.guarantee, s.subject).toBeDefined();
  });

  it('inventory: commands read by the actor from its own stream and events out, exactly once; the stock query; its dead letters', () => {
    const c = describeContract(inventoryTopology);
    expect(find(c.subjects, 'shop.stock.reserve')).toMatchObject({
      direction: 'in',
      part: 'actor stock',
      stream: 'SHOP_STOCK',
      guarantee: 'exactly-once',
      payload: { required: ['orderId', 'sku', 'quantity'] },
    });
    expect(find(c.subjects, 'shop.stock.restock')).toMatchObject({ direction: 'in', payload: { required: ['sku', 'quantity'] } });
    expect(find(c.subjects, 'shop.stock.reserved')).toMatchObject({
      direction: 'out',
      part: 'actor stock',
      stream: 'SHOP_STOCK_EVENTS',
      guarantee: 'exactly-once',
      payload: { required: ['orderId', 'sku', 'quantity', 'available', 'expiresAt'] },
    });
    expect(find(c.subjects, 'sluice.actor.inventory.stock.*.tell', 'in')).toMatchObject({ stream: 'SHOP_STOCK' });
    expect(find(c.subjects, 'shop.stock.query', 'request')).toMatchObject({
      part: 'respond shop.stock.query',
      transport: 'core',
      guarantee: 'at-most-once',
      payload: { required: ['sku'] },
    });
    expect(find(c.subjects, 'sluice.dlq.inventory.stock', 'dead-letter')).toMatchObject({ part: 'actor stock', stream: 'SLUICE_DLQ_inventory' });
    // No hand-over, and nothing reads the events back (emits.readBack: false): no stream consumer at all.
    expect(c.nodes.filter((n) => n.kind === 'stream' || n.kind === 'sink')).toEqual([]);
    expect(c.paths.map((p) => p.guarantee)).toEqual(['exactly-once']);
  });

  it('a mixture: a stream feeding an actor (t.actor) and a durable batch, with their hand-over subjects internal', () => {
    const topology = defineTopology('mix', (t) => {
      const orders = t.stream<z.infer<typeof Order>>('MIX', 'mix.orders', { schema: Order });
      const events = t.actor(counter, orders, { emits: { stream: 'MIX_EVENTS', subjects: ['mix.events.>'], schemas: { 'mix.events.reserved': Reserved } } });
      const batch = t.durableBatch(
        { name: 'daily', deadLetterSubject: 'mix.batch.dead', emits: { stream: 'MIX_LEDGER', subjects: ['mix.ledger'] }, flush: () => undefined },
        { values: orders, triggers: t.source('mix.close') },
      );
      return [
        events.pipe(
          map((e) => e.data),
          t.sink('mix.count'),
        ),
        batch,
      ];
    });
    const c = describeContract(topology);
    const by = (d: string) => c.subjects.filter((s) => s.direction === d).map((s) => s.subject);
    expect(by('in')).toEqual(['mix.orders', 'sluice.actor.mix.counter.*.tell', 'sluice.actor.mix.counter.*.reset', 'mix.close']);
    expect(by('out')).toEqual(['mix.events.reserved', 'mix.ledger', 'mix.count']);
    expect(by('dead-letter')).toEqual(['sluice.dlq.mix.counter', 'mix.batch.dead', 'sluice.dlq.mix', 'sluice.dlq.mix.$replayed']);
    expect(find(c.subjects, 'mix.batch.dead')!.stream).toBeUndefined(); // a subject of its own, outside SLUICE_DLQ_mix
    expect(by('internal')).toEqual(
      expect.arrayContaining([
        'sluice.actor.mix.counter.*.tell',
        'sluice.actor.mix.counter.*.timer',
        'sluice.batch.mix.daily.in',
        'sluice.batch.mix.daily.trigger',
      ]),
    );
    expect(find(c.subjects, 'sluice.batch.mix.daily.in', 'internal')).toMatchObject({ stream: 'SLUICE_BATCH_mix_daily' });
    expect(find(c.subjects, 'mix.events.reserved')).toMatchObject({ stream: 'MIX_EVENTS', payload: { required: ['orderId', 'left'] } });
    expect(c.paths.map((p) => `${p.from} -> ${p.to}: ${p.guarantee}`)).toEqual(
      expect.arrayContaining(['actor counter -> mix.events.>: exactly-once', 'durable-batch daily -> mix.ledger: exactly-once']),
    );
  });
});

describe('describeContract: responders, schedules, file sinks, hand-made publishes', () => {
  const noStore = () => {
    throw new Error('describe subscribes nothing, so it opens no store');
  };
  const topology = defineTopology('parts', (t) => {
    t.respond('parts.ask', () => 1, { deadlineMs: 10, fallback: () => 0 });
    const nightly = t
      .schedule('nightly', '0 2 * * *', { tz: 'Europe/London', catchUp: 'all', overlap: 'queue' })
      .pipe(t.sink('parts.nightly', { durable: true, stream: 'PARTS_OUT' }));
    const lines = t.stream('PARTS', 'parts.lines');
    return [
      nightly,
      lines.pipe(
        microBatch({ maxCount: 10, maxWaitMs: 1_000, groups: { store: noStore, name: 'recorded' } }),
        fileSink({ dir: 'out/recorded', format: 'csv', columns: ['a'], name: 'recorded' }),
      ),
      lines.pipe(microBatch({ maxCount: 10, maxWaitMs: 1_000 }), fileSink({ dir: 'out/plain', format: 'ndjson', name: 'plain' })),
    ];
  });
  const c = describeContract(topology);

  it('a responder without schemas: a request and a reply entry, no payloads', () => {
    expect(find(c.subjects, 'parts.ask', 'request')).toMatchObject({ part: 'respond parts.ask', transport: 'core', guarantee: 'at-most-once' });
    expect(find(c.subjects, 'parts.ask', 'request')!.payload).toBeUndefined();
    expect(c.subjects.filter((s) => s.direction === 'reply').map((s) => s.part)).toEqual(['respond parts.ask']);
    expect(find(c.subjects, 'parts.ask', 'in')).toBeUndefined();
  });

  it('a schedule with catch-up all: internal, at-least-once, and exactly-once into a durable sink', () => {
    const s = find(c.subjects, 'schedule.nightly')!;
    expect(s).toMatchObject({ direction: 'internal', transport: 'none', guarantee: 'at-least-once' });
    expect(s.description).toContain("cron '0 2 * * *' in Europe/London, catch-up 'all', overlap 'queue'");
    expect(c.paths).toContainEqual(expect.objectContaining({ from: 'schedule:nightly', to: 'parts.nightly', guarantee: 'exactly-once' }));
  });

  it('file sinks: a path each, exactly-once only from recorded groups; no subject', () => {
    expect(c.paths).toContainEqual(expect.objectContaining({ from: 'PARTS (parts.lines)', to: 'file:out/recorded (csv)', guarantee: 'exactly-once' }));
    expect(c.paths).toContainEqual(expect.objectContaining({ from: 'PARTS (parts.lines)', to: 'file:out/plain (ndjson)', guarantee: 'at-least-once' }));
    expect(c.nodes.filter((n) => n.kind === 'file').map((n) => n.name)).toEqual(['fileSink:recorded', 'fileSink:plain']);
    expect(c.subjects.some((s) => s.subject.startsWith('file:'))).toBe(false);
  });
});

describe('describeContract: filtered reads and catch-up once', () => {
  const Close = z.object({ by: z.string() });
  const File = z.object({ path: z.string() });
  const topology = defineTopology('filtered', (t) => {
    const closes = t.stream('OPS', ['ops.close', 'ops.file'], { filterSubject: 'ops.close', schema: Close });
    const files = t.stream('OPS', ['ops.close', 'ops.file'], { filterSubject: 'ops.file', schema: File });
    const nightly = t.schedule('nightly', '0 2 * * *', { catchUp: 'once' }).pipe(t.sink('ops.close', { durable: true }));
    return [closes.pipe(t.sink('filtered.closed')), files.pipe(t.sink('filtered.files')), nightly];
  });
  const c = describeContract(topology);

  it('a filtered read is an input of its filter subject only, with its own schema; the stream keeps all its subjects', () => {
    const inputs = c.subjects.filter((s) => s.direction === 'in');
    expect(inputs.map((s) => s.subject)).toEqual(['ops.close', 'ops.file']);
    expect(find(c.subjects, 'ops.close', 'in')!.payload).toMatchObject({ required: ['by'] });
    expect(find(c.subjects, 'ops.file', 'in')!.payload).toMatchObject({ required: ['path'] });
    expect(c.paths).toContainEqual(expect.objectContaining({ from: 'OPS (ops.file)', to: 'filtered.files' }));
    expect(c.streams.find((st) => st.name === 'OPS')?.subjects).toEqual(['ops.close', 'ops.file']);
  });

  it("a schedule with catch-up 'once' is at-least-once in the contract and on its path, for the schedule's reason", () => {
    expect(find(c.subjects, 'schedule.nightly')).toMatchObject({ guarantee: 'at-least-once' });
    const path = c.paths.find((p) => p.from === 'schedule:nightly');
    expect(path).toMatchObject({ guarantee: 'at-least-once', because: expect.stringContaining("catch-up 'once'") });
  });
});

describe('contractToAsyncApi', () => {
  it('one channel, operation and message per external subject; internal ones left out', () => {
    const doc = contractToAsyncApi(describeContract(stockActorTopology)) as unknown as {
      asyncapi: string;
      channels: Record<string, { address: string; messages: Record<string, { $ref: string }> }>;
      operations: Record<string, { action: string; channel: { $ref: string } }>;
      components: { messages: Record<string, { payload?: { schemaFormat: string; schema: unknown }; headers?: { required: string[] } }> };
    };
    expect(doc.asyncapi).toBe('3.0.0');
    const addresses = Object.values(doc.channels).map((c) => c.address);
    expect(addresses).toContain('shop.stock.reserve');
    expect(addresses).not.toContain('sluice.actor.stock.stock.*.timer');
    const id = Object.keys(doc.channels).find((k) => doc.channels[k]!.address === 'shop.stock.reserved')!;
    expect(doc.operations[id]).toMatchObject({ action: 'send', channel: { $ref: `#/channels/${id}` } });
    expect(doc.components.messages[id]!.payload!.schemaFormat).toBe('application/schema+json;version=draft-2020-12');
    expect(doc.components.messages[id]!.headers!.required).toEqual(['Content-Type', 'Nats-Msg-Id', 'Sluice-Key']);
    const input = Object.keys(doc.channels).find((k) => doc.channels[k]!.address === 'shop.stock.reserve')!;
    expect(doc.operations[input]!.action).toBe('receive');
    // Every $ref resolves.
    const json = JSON.stringify(doc);
    for (const [, ref] of json.matchAll(/"\$ref":"#\/([^"]+)"/g)) {
      const target = ref!.split('/').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], doc);
      expect(target, ref).toBeDefined();
    }
  });
});
