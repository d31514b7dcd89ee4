import { pino } from 'pino';
import fc from 'fast-check';
import { EMPTY, interval, map, mergeMap, NEVER, Subject, throwError, timer } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeEnvelope } from '../../../src/codec/decode-envelope.js';
import { jsonCodec } from '../../../src/codec/json-codec.js';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import type { Envelope } from '../../../src/envelope/envelope.js';
import { InvalidConfigError, TopologyFailedError } from '../../../src/errors.js';
import { decodeDeadLetter, DEAD_LETTER_HEADERS } from '../../../src/dead-letter/encode-dead-letter.js';
import { defineTopology } from '../../../src/runtime/define-topology.js';
import { runTopology, type RunningTopology } from '../../../src/runtime/run-topology.js';
import { LocalTransport } from '../../../src/transport/local/local-transport.js';

const silent = pino({ level: 'silent' });
const runs: RunningTopology[] = [];
afterEach(async () => {
  await Promise.all(runs.splice(0).map((r) => r.stop()));
});

async function start(topology: Parameters<typeof runTopology>[0], transport = new LocalTransport(), extra: Partial<Parameters<typeof runTopology>[1]> = {}) {
  const run = await runTopology(topology, { transport, logger: silent, report: () => undefined, ...extra });
  runs.push(run);
  return { run, transport };
}

function record(transport: LocalTransport, subject: string): Envelope<Uint8Array>[] {
  const seen: Envelope<Uint8Array>[] = [];
  transport.subscribe(subject).subscribe((e) => seen.push(e));
  return seen;
}

describe('runTopology', () => {
  it('decodes input, publishes through sink with Content-Type, and counts per subject', async () => {
    const transport = new LocalTransport();
    const out = record(transport, 'greet.out');
    const { run } = await start(
      defineTopology('greeter', (t) =>
        t.source<string>('greet.in').pipe(
          map((e) => `hello ${e.data}`),
          t.sink('greet.out'),
        ),
      ),
      transport,
    );
    transport.publish('greet.in', msgpackCodec.encode('ada'));
    transport.publish('greet.in', jsonCodec.encode('bob'), { headers: { 'Content-Type': 'application/json' } });
    await transport.flush();
    await transport.flush();
    expect(out.map((e) => decodeEnvelope(e).data)).toEqual(['hello ada', 'hello bob']);
    expect(out[0]?.headers['Content-Type']).toBe('application/msgpack');
    expect(run.stats.snapshot()).toEqual({
      received: { 'greet.in': 2 },
      published: { 'greet.out': 2 },
      deadLetters: 0,
      unsettled: 0,
      unsettledOutputs: 0,
      connection: { connected: true, disconnects: 0, reconnects: 0, disconnectedMs: 0 },
    });
  });

  it('dead-letters undecodable input with its original bytes, subject and reason, and carries on', async () => {
    const transport = new LocalTransport();
    const dlq = record(transport, 'sluice.dlq.greeter');
    const out = record(transport, 'greet.out');
    const { run } = await start(
      defineTopology('greeter', (t) => t.source('greet.in').pipe(t.sink('greet.out'))),
      transport,
    );
    const bad = new Uint8Array([0x92, 0x01]); // an array of two holding one item: truncated
    transport.publish('greet.in', bad);
    transport.publish('greet.in', new TextEncoder().encode('{"a":'), { headers: { 'Content-Type': 'application/json' } });
    transport.publish('greet.in', msgpackCodec.encode({ ok: true }));
    await transport.flush();
    await transport.flush();
    expect(out).toHaveLength(1);
    expect(dlq).toHaveLength(2);
    const first = decodeDeadLetter(dlq[0]!.data);
    expect(first).toMatchObject({ v: 1, subject: 'greet.in', operator: 'source:greet.in', payloadSource: 'raw', error: { name: 'DecodeError' } });
    expect([...first.payload]).toEqual([...bad]);
    expect(dlq[0]!.headers[DEAD_LETTER_HEADERS.subject]).toBe('greet.in');
    expect(dlq[0]!.headers[DEAD_LETTER_HEADERS.error]).toBe('DecodeError');
    expect(dlq[1]!.headers[DEAD_LETTER_HEADERS.reason]).toMatch(/application\/json/);
    expect(run.stats.deadLetters).toBe(2);
    // Kept in the dead-letter stream for replay, even on the local transport.
    expect((await transport.streamState('SLUICE_DLQ_greeter')).messages).toBe(2);
  });

  it('dead-letters a value the sink cannot encode instead of failing the pipeline', async () => {
    const transport = new LocalTransport();
    const dlq = record(transport, 'sluice.dlq.enc');
    const out = record(transport, 'enc.out');
    const { run } = await start(
      defineTopology('enc', (t) =>
        t.source<number>('enc.in').pipe(
          map((e) => (e.data === 1 ? { n: 1n } : { n: e.data })),
          t.sink('enc.out', { codec: jsonCodec }),
        ),
      ),
      transport,
    );
    transport.publish('enc.in', msgpackCodec.encode(1));
    transport.publish('enc.in', msgpackCodec.encode(2));
    await transport.flush();
    await transport.flush();
    expect(out.map((e) => decodeEnvelope(e).data)).toEqual([{ n: 2 }]);
    expect(dlq).toHaveLength(1);
    expect(decodeDeadLetter(dlq[0]!.data)).toMatchObject({ operator: 'sink:enc.out', error: { name: 'EncodeError' } });
    expect(run.stats.snapshot().published).toEqual({ 'enc.out': 1 });
  });

  it('stops after durationMs with reason "duration"', async () => {
    const { run } = await start(
      defineTopology('timed', (t) => t.source('x.in')),
      undefined,
      { durationMs: 50 },
    );
    const exit = await run.done;
    expect(exit.reason).toBe('duration');
    expect(exit.elapsedMs).toBeGreaterThanOrEqual(45);
  });

  it('stops with "completed" when every returned pipeline completes', async () => {
    const { run } = await start(defineTopology('finite', () => [EMPTY, EMPTY]));
    expect((await run.done).reason).toBe('completed');
  });

  it('stops with "failed" and a TopologyFailedError naming the part when a pipeline under supervision "stop" errors', async () => {
    const { run } = await start(defineTopology('broken', () => throwError(() => new Error('boom')), { supervision: 'stop' }));
    const exit = await run.done;
    expect(exit.reason).toBe('failed');
    expect(exit.error).toBeInstanceOf(TopologyFailedError);
    expect(exit.error?.message).toBe("topology 'broken' failed in pipeline 1: boom");
    expect(exit.failedPart).toBe('pipeline 1');
  });

  it('drains: generators stop, in-process traffic is delivered, then sources complete and hooks run', async () => {
    const transport = new LocalTransport();
    const order: string[] = [];
    let generated = 0;
    const { run } = await start(
      defineTopology('drain', (t) => {
        t.onStop(() => void order.push('hook'));
        return [
          interval(1, t.scheduler).pipe(
            t.untilStopped(),
            map(() => t.publish('d.in', ++generated)),
          ),
          t.source<number>('d.in').pipe(t.sink('d.out')),
        ];
      }),
      transport,
    );
    const out = record(transport, 'd.out');
    await new Promise((r) => setTimeout(r, 60));
    transport.subscribe('d.in').subscribe({ complete: () => order.push('source completed') });
    const exit = await run.stop();
    expect(exit.reason).toBe('stopped');
    expect(generated).toBeGreaterThan(0);
    // Everything generated before the stop was routed: nothing cut off in flight.
    expect(exit.stats.published['d.out']).toBe(generated);
    expect(out.length).toBe(generated);
    expect(order[0]).toBe('hook');
  });

  it('cuts off a pipeline that does not complete within drainTimeoutMs', async () => {
    const { run } = await start(
      defineTopology('stuck', () => NEVER),
      undefined,
      { drainTimeoutMs: 20 },
    );
    expect((await run.stop()).reason).toBe('stopped');
  });

  it('passes a Subscription returned by the builder to the drain', async () => {
    const events = new Subject<number>();
    let unsubscribed = false;
    const { run } = await start(
      defineTopology('self-subscribed', () => {
        const sub = events.subscribe();
        sub.add(() => (unsubscribed = true));
        return sub;
      }),
    );
    await run.stop();
    expect(unsubscribed).toBe(true);
  });

  it('rejects and closes the transport when the builder throws', async () => {
    const transport = new LocalTransport();
    await expect(
      runTopology(
        defineTopology('throws', () => {
          throw new Error('bad wiring');
        }),
        { transport, logger: silent },
      ),
    ).rejects.toThrow('bad wiring');
    expect(() => transport.publish('a', new Uint8Array())).toThrow(/closed/);
  });

  it('validates its options when called', async () => {
    const topology = defineTopology('t', () => undefined);
    await expect(runTopology(topology, { transport: new LocalTransport(), durationMs: -1 })).rejects.toThrow(InvalidConfigError);
  });
});

describe('runTopology drain (property)', () => {
  it('everything received before stop() is published before stop() resolves, even with async work in flight', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ count: fc.integer({ min: 0, max: 40 }), delayMs: fc.integer({ min: 0, max: 15 }), pauseMs: fc.integer({ min: 0, max: 5 }) }), {
          maxLength: 6,
        }),
        async (bursts) => {
          const transport = new LocalTransport();
          const run = await runTopology(
            defineTopology('drain-prop', (t) =>
              t.source<number>('p.in').pipe(
                mergeMap((e) => timer(e.data % 16, t.scheduler).pipe(map(() => e.data))),
                t.sink('p.out'),
              ),
            ),
            { transport, logger: silent, report: () => undefined },
          );
          let sent = 0;
          for (const b of bursts) {
            for (let i = 0; i < b.count; i++) transport.publish('p.in', msgpackCodec.encode(b.delayMs + 16 * sent++));
            await new Promise((r) => setTimeout(r, b.pauseMs));
          }
          const exit = await run.stop();
          expect(exit.stats.received['p.in'] ?? 0).toBe(sent);
          expect(exit.stats.published['p.out'] ?? 0).toBe(sent);
        },
      ),
      { numRuns: Number(process.env.PROP_RUNS ?? 15) },
    );
  });
});
