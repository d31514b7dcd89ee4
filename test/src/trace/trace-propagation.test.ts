import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { pino } from 'pino';
import { filter, map } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { microBatch } from '../../../operators/micro-batch.js';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import { deadLetterStreamName } from '../../../src/dead-letter/dead-letter-subject.js';
import { decodeDeadLetter } from '../../../src/dead-letter/encode-dead-letter.js';
import type { Envelope } from '../../../src/envelope/envelope.js';
import { defineTopology, type Topology } from '../../../src/runtime/define-topology.js';
import { runTopology, type RunningTopology } from '../../../src/runtime/run-topology.js';
import { disableTracing, enableTracing } from '../../../src/trace/enable-tracing.js';
import { parseTraceparent } from '../../../src/trace/parse-traceparent.js';
import { uniqueName, useNatsServer } from '../../helpers/nats-server.js';
import { readStream } from '../../helpers/read-stream.js';
import { useTransport } from '../../helpers/transports.js';
import { until } from '../../helpers/until.js';

type In = { i: number; bad?: boolean };
const TP1 = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const TP3 = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const STATE = 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7';

const runs: RunningTopology[] = [];
afterEach(async () => {
  disableTracing();
  await Promise.all(runs.splice(0).map((r) => r.stop()));
});

function assertGood(e: Envelope<In>): Envelope<In> {
  if (e.data.bad === true) throw new TypeError(`bad input ${e.data.i}`);
  return e;
}

describe('trace context over nats', () => {
  const server = useNatsServer();
  const transport = useTransport('nats', server);

  async function setup(outs: string[]): Promise<{ name: string; stream: string; subject: string }> {
    const name = uniqueName('trace');
    const stream = `IN_${name}`;
    await transport().ensureStream({ name: stream, subjects: [`${name}.in.>`] });
    for (const out of outs) await transport().ensureStream({ name: `OUT_${name}_${out}`, subjects: [`${name}.${out}`] });
    return { name, stream, subject: `${name}.in` };
  }
  const send = (subject: string, data: In, headers?: Record<string, string>): Promise<unknown> =>
    transport().publishDurable(`${subject}.x`, msgpackCodec.encode(data), headers !== undefined ? { headers } : {});
  const start = async (topology: Topology): Promise<RunningTopology> => {
    const run = await runTopology(topology, {
      transport: transport(),
      logger: pino({ level: 'silent' }),
      report: () => undefined,
      closeTransport: false,
      service: false,
    });
    runs.push(run);
    return run;
  };
  const outputs = async (name: string, out: string): Promise<Array<{ data: unknown; traceparent: string | undefined; tracestate: string | undefined }>> =>
    (await readStream(transport(), `OUT_${name}_${out}`)).map((m) => ({
      data: msgpackCodec.decode(m.data),
      traceparent: m.headers['traceparent'],
      tracestate: m.headers['tracestate'],
    }));

  it("tracing off: plain values, envelopes and micro-batches carry their input's traceparent/tracestate unchanged; an input without one gets none; a dead letter carries it", async () => {
    const s = await setup(['plain', 'env', 'batch']);
    const good = (e: Envelope<In>): boolean => e.data.bad !== true;
    const run = await start(
      defineTopology(s.name, (t) => [
        // Plain values lose the envelope: the sink takes the trace from the input being settled.
        t.stream<In>(s.stream, `${s.subject}.>`).pipe(
          map(assertGood),
          map((e) => ({ n: e.data.i })),
          t.sink(`${s.name}.plain`, { durable: true }),
        ),
        t.stream<In>(s.stream, `${s.subject}.>`).pipe(filter(good), t.sink(`${s.name}.env`)),
        t.stream<In>(s.stream, `${s.subject}.>`).pipe(
          filter(good),
          microBatch({ maxCount: 2, maxWaitMs: 60_000 }),
          map((b) => b),
          t.sink(`${s.name}.batch`, { durable: true }),
        ),
      ]),
    );
    await send(s.subject, { i: 2 });
    await send(s.subject, { i: 1 }, { traceparent: TP1, tracestate: STATE });
    await send(s.subject, { i: 3, bad: true }, { traceparent: TP3 });
    await until(
      async () =>
        (await transport().streamState(`OUT_${s.name}_plain`)).messages >= 2 &&
        (await transport().streamState(`OUT_${s.name}_batch`)).messages >= 1 &&
        run.stats.deadLetters >= 1 &&
        run.stats.unsettled === 0,
      {
        what: 'outputs and the dead letter',
      },
    );
    expect(await outputs(s.name, 'plain')).toEqual([
      { data: { n: 2 }, traceparent: undefined, tracestate: undefined },
      { data: { n: 1 }, traceparent: TP1, tracestate: STATE },
    ]);
    expect((await outputs(s.name, 'env')).map((o) => [(o.data as In).i, o.traceparent, o.tracestate])).toEqual([
      [2, undefined, undefined],
      [1, TP1, STATE],
    ]);
    // A batch has one traceparent: its first member that has one (here the second, i=1).
    const batch = await outputs(s.name, 'batch');
    expect(batch).toHaveLength(1);
    expect(batch[0]).toMatchObject({ traceparent: TP1, tracestate: STATE });
    const dead = await readStream(transport(), deadLetterStreamName(s.name));
    expect(dead).toHaveLength(1);
    expect(dead[0]!.headers['traceparent']).toBe(TP3);
    expect(decodeDeadLetter(dead[0]!.data).headers['traceparent']).toBe(TP3);
  });

  it('tracing on: a consumer span per input (child of its traceparent), a producer span per publish; outputs carry the trace id with the producer span id; a dead letter joins the trace', async () => {
    const s = await setup(['plain']);
    // The SDK's in-memory exporter: it holds the spans that ended, as an exporter would get them.
    const exporter = new InMemorySpanExporter();
    enableTracing({ tracerProvider: new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }) });
    const run = await start(
      defineTopology(s.name, (t) =>
        t.stream<In>(s.stream, `${s.subject}.>`).pipe(
          map(assertGood),
          map((e) => e.data.i),
          t.sink(`${s.name}.plain`, { durable: true }),
        ),
      ),
    );
    await send(s.subject, { i: 1 }, { traceparent: TP1, tracestate: STATE });
    await send(s.subject, { i: 2 });
    await send(s.subject, { i: 3, bad: true }, { traceparent: TP3 });
    await until(async () => (await transport().streamState(`OUT_${s.name}_plain`)).messages >= 2 && run.stats.deadLetters >= 1 && run.stats.unsettled === 0, {
      what: 'outputs and the dead letter',
    });
    // Three consumer spans (ended as each input settled) and two producer spans (ended on the acks).
    await until(() => exporter.getFinishedSpans().length >= 5, { what: 'spans ended' });
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(5);

    const [one, two] = await outputs(s.name, 'plain');
    const tp1 = parseTraceparent(TP1)!;
    const out1 = parseTraceparent(one!.traceparent)!;
    expect(out1.traceId).toBe(tp1.traceId);
    expect(out1.spanId).not.toBe(tp1.spanId);
    expect(one!.tracestate).toBe(STATE);

    const consumer1 = spans.find((x) => x.name === `process ${s.subject}.x` && x.parentSpanContext?.spanId === tp1.spanId)!;
    expect(consumer1).toMatchObject({ kind: SpanKind.CONSUMER, parentSpanContext: { traceId: tp1.traceId, isRemote: true } });
    expect(consumer1.spanContext().traceState?.serialize()).toBe(STATE);
    expect(consumer1.attributes).toMatchObject({
      'messaging.system': 'nats',
      'messaging.destination.name': `${s.subject}.x`,
      'messaging.message.id': `${s.stream}:1`,
    });
    const producer1 = spans.find((x) => x.spanContext().spanId === out1.spanId)!;
    expect(producer1).toMatchObject({ name: `send ${s.name}.plain`, kind: SpanKind.PRODUCER, parentSpanContext: { spanId: consumer1.spanContext().spanId } });
    expect(producer1.attributes).toMatchObject({
      'messaging.system': 'nats',
      'messaging.destination.name': `${s.name}.plain`,
      'messaging.message.id': `${s.name}.${s.name}.plain.${s.stream}:1.0`,
    });

    // No traceparent in: with tracing on the input starts a trace, and its output is in it.
    const out2 = parseTraceparent(two!.traceparent)!;
    const consumer2 = spans.find((x) => x.attributes['messaging.message.id'] === `${s.stream}:2`)!;
    expect(consumer2.parentSpanContext).toBeUndefined();
    expect(out2.traceId).toBe(consumer2.spanContext().traceId);

    // The failed input's consumer span is marked failed; its dead letter keeps the traceparent it
    // arrived with (the record holds the original headers, so a replay rejoins the same trace).
    const consumer3 = spans.find((x) => x.attributes['messaging.message.id'] === `${s.stream}:3`)!;
    expect(consumer3).toMatchObject({
      status: { code: SpanStatusCode.ERROR, message: 'bad input 3' },
      parentSpanContext: { spanId: parseTraceparent(TP3)!.spanId },
    });
    const dead = await readStream(transport(), deadLetterStreamName(s.name));
    expect(dead[0]!.headers['traceparent']).toBe(TP3);
  });
});
