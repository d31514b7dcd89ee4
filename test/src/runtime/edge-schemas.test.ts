import { jetstreamManager } from '@nats-io/jetstream';
import { pino } from 'pino';
import { map } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import { deadLetterStreamName } from '../../../src/dead-letter/dead-letter-subject.js';
import { decodeDeadLetter } from '../../../src/dead-letter/encode-dead-letter.js';
import { defineTopology } from '../../../src/runtime/define-topology.js';
import { describeTopology } from '../../../src/runtime/describe-topology.js';
import { runTopology } from '../../../src/runtime/run-topology.js';
import { startTestDriver } from '../../../src/testing/index.js';
import { NatsTransport } from '../../../src/transport/nats/nats-transport.js';
import { uniqueName, useNatsServer } from '../../helpers/nats-server.js';
import { readStream } from '../../helpers/read-stream.js';
import { until } from '../../helpers/until.js';

const Line = z.object({ sku: z.string(), qty: z.number().int().positive() });
const Order = z.object({ orderId: z.string(), items: z.array(Line) });
type Order = z.infer<typeof Order>;
const silent = pino({ level: 'silent' });

describe('edge schemas (in-process)', () => {
  const drivers: Array<{ stop(): Promise<unknown> }> = [];
  afterAll(async () => {
    for (const d of drivers) await d.stop();
  });

  it('a core source dead-letters what does not match, naming the field path, and carries on', async () => {
    const topology = defineTopology('edge-core', (t) =>
      t.source<Order>('in.orders', { schema: Order }).pipe(
        map((e) => e.data.orderId),
        t.sink('out.ids'),
      ),
    );
    const driver = await startTestDriver(topology);
    drivers.push(driver);
    driver.input('in.orders').publish({ orderId: 'o1', items: [{ sku: 'A', qty: 1 }] });
    driver.input('in.orders').publish({
      orderId: 'o2',
      items: [
        { sku: 'A', qty: 1 },
        { sku: 'B', qty: 2 },
        { sku: 7, qty: 1 },
      ],
    });
    driver.input('in.orders').publish({ orderId: 'o3', items: [] });
    expect(await driver.output('out.ids').readAll()).toEqual(['o1', 'o3']);
    const [dead] = await driver.deadLetters();
    expect(dead).toMatchObject({ subject: 'in.orders', operator: 'source:in.orders', payloadSource: 'raw', error: { name: 'PayloadSchemaError' } });
    expect(dead!.error.message).toBe("payload on subject 'in.orders' does not match its schema: items[2].sku: expected string, received number");
    expect(msgpackCodec.decode(dead!.payload)).toMatchObject({ orderId: 'o2' });
  });

  it('a sink with a schema dead-letters an output that does not match instead of publishing it; validate: false publishes it', async () => {
    const topology = defineTopology('edge-sink', (t) => [
      t.source<{ n: number }>('in.n').pipe(
        map((e) => ({ sku: `s${e.data.n}`, qty: e.data.n })),
        t.sink('out.checked', { schema: Line }),
      ),
      t.source<{ n: number }>('in.m').pipe(
        map((e) => ({ sku: `s${e.data.n}`, qty: e.data.n })),
        t.sink('out.unchecked', { schema: Line, validate: false }),
      ),
    ]);
    const driver = await startTestDriver(topology);
    drivers.push(driver);
    for (const n of [1, 0, 2]) driver.input('in.n').publish({ n });
    driver.input('in.m').publish({ n: 0 });
    expect(await driver.output('out.checked').readAll()).toEqual([
      { sku: 's1', qty: 1 },
      { sku: 's2', qty: 2 },
    ]);
    expect(await driver.output('out.unchecked').readAll()).toEqual([{ sku: 's0', qty: 0 }]);
    const dead = await driver.deadLetters();
    expect(dead.map((d) => [d.operator, d.error.name])).toEqual([['sink:out.checked', 'PayloadSchemaError']]);
    expect(dead[0]!.error.message).toContain('qty: Too small');
  });

  it('a plain value from a stream input that a sink refuses dead-letters that input: its original bytes, stream and sequence, the sink and the reason', async () => {
    const topology = defineTopology('edge-sink-input', (t) =>
      t.stream<{ n: number }>('EDGE_N', 'in.n.stream').pipe(
        map((e) => ({ sku: `s${e.data.n}`, qty: e.data.n })),
        t.sink('out.checked', { schema: Line }),
      ),
    );
    const driver = await startTestDriver(topology);
    drivers.push(driver);
    for (const n of [1, 0, 2]) driver.input('in.n.stream').publish({ n });
    expect(await driver.output('out.checked').readAll()).toEqual([
      { sku: 's1', qty: 1 },
      { sku: 's2', qty: 2 },
    ]);
    const dead = await driver.deadLetters();
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ operator: 'sink:out.checked', subject: 'in.n.stream', stream: 'EDGE_N', seq: 2, payloadSource: 'raw' });
    expect(dead[0]!.error).toMatchObject({ name: 'PayloadSchemaError' });
    expect(dead[0]!.error.message).toContain('qty: Too small');
    expect(msgpackCodec.decode(dead[0]!.payload)).toEqual({ n: 0 });
  });

  it('describe publishes the JSON Schema of each edge', () => {
    const topology = defineTopology('edge-describe', (t) =>
      t.stream('EDGE', 'edge.in', { schema: Order }).pipe(t.sink('edge.out', { schema: Line, durable: true, stream: 'EDGE_OUT' })),
    );
    const [source, sink] = describeTopology(topology).nodes;
    expect(source!.payload).toMatchObject({ type: 'object', required: ['orderId', 'items'] });
    expect(sink).toMatchObject({ kind: 'sink', stream: 'EDGE_OUT', payload: { type: 'object', required: ['sku', 'qty'] } });
  });
});

describe('edge schemas on a JetStream stream (real nats-server)', () => {
  const server = useNatsServer();

  it('a message that does not match is acknowledged only once its dead letter is stored', async () => {
    const name = uniqueName('edge');
    const stream = uniqueName('EDGE').toUpperCase();
    const subject = `${name}.orders`;
    const transport = await NatsTransport.connect({ servers: server().url });
    const jsm = await jetstreamManager(transport.nc);
    await transport.ensureStream({ name: stream, subjects: [subject] });
    const got: string[] = [];
    const topology = defineTopology(name, (t) =>
      t.stream<Order>(stream, subject, { schema: Order, durableName: 'reader', redeliveryDelayMs: 50 }).pipe(map((e) => void got.push(e.data.orderId))),
    );
    const run = await runTopology(topology, { transport, logger: silent, report: () => undefined, closeTransport: false, service: false });
    try {
      // No place to store dead letters: the bad message must stay unacknowledged (and come back).
      await jsm.streams.delete(deadLetterStreamName(name));
      await transport.publishDurable(subject, msgpackCodec.encode({ orderId: 'o1', items: [] }));
      await transport.publishDurable(subject, msgpackCodec.encode({ orderId: 'o2', items: [{ sku: 'A', qty: 0 }] }));
      await transport.publishDurable(subject, msgpackCodec.encode({ orderId: 'o3', items: [] }));
      await until(() => got.length === 2, { what: 'the valid orders' });
      await until(async () => (await jsm.consumers.info(stream, 'reader')).num_redelivered > 0, { what: 'a redelivery of the bad message' });
      const before = await jsm.consumers.info(stream, 'reader');
      expect(before.ack_floor.stream_seq).toBe(1);

      // Storage back: the next delivery is dead-lettered, then acknowledged.
      await transport.ensureStream({ name: deadLetterStreamName(name), subjects: [`sluice.dlq.${name}`] });
      await until(async () => (await jsm.consumers.info(stream, 'reader')).ack_floor.stream_seq === 3, { what: 'every input acknowledged', timeoutMs: 10_000 });
      const dead = (await readStream(transport, deadLetterStreamName(name))).map((m) => decodeDeadLetter(m.data));
      expect(dead.map((d) => [d.stream, d.seq, d.error.name])).toEqual([[stream, 2, 'PayloadSchemaError']]);
      expect(dead[0]!.error.message).toBe(
        `payload on subject '${subject}' (stream ${stream}, seq 2) does not match its schema: items[0].qty: Too small: expected number to be >0`,
      );
      expect(got).toEqual(['o1', 'o3']);
    } finally {
      await run.stop();
      await transport.close();
    }
  }, 30_000);
});
