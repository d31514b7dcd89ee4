import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { map, merge } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { queryActorState } from '../../../src/actors/actor-client.js';
import { actor } from '../../../src/actors/actor.js';
import { startActor } from '../../../src/actors/start-actor.js';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import { decodeDeadLetter } from '../../../src/dead-letter/encode-dead-letter.js';
import { readDeadLetters } from '../../../src/dead-letter/read-dead-letters.js';
import type { Envelope } from '../../../src/envelope/envelope.js';
import { defineTopology } from '../../../src/runtime/define-topology.js';
import { replayDeadLetters } from '../../../src/runtime/replay-dead-letters.js';
import { runTopology } from '../../../src/runtime/run-topology.js';
import { openStateStore } from '../../../src/state/open-state-store.js';
import { NatsTransport } from '../../../src/transport/nats/nats-transport.js';
import type { StreamMessage } from '../../../src/transport/transport.js';
import { uniqueName, useNatsServer } from '../../helpers/nats-server.js';
import { readStream } from '../../helpers/read-stream.js';
import { until } from '../../helpers/until.js';

const MAX_PAYLOAD = 16 * 1024;
// Undecodable (0xC1 is never valid MessagePack) and just below max_payload: its record with the
// error and metadata around it would not fit.
const poison = new Uint8Array(MAX_PAYLOAD - 400).fill(0xc1);

/** Bytes NATS counts against max_payload for a stored message: payload plus header block. */
const wireSize = (m: StreamMessage) => m.data.length + Object.entries(m.headers).reduce((n, [k, v]) => n + k.length + v.length + 4, 12);

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

describe('dead letters near max_payload (real nats-server, max_payload 16 KiB)', () => {
  const server = useNatsServer({ config: { max_payload: MAX_PAYLOAD } });

  it('core and stream sources: the record is cut to fit, says so, and a stream message is replayed from its original', async () => {
    const name = uniqueName('big').replace(/_/g, '-');
    const core = `${name}.core`;
    const streamName = uniqueName('BIGIN');
    const streamed = `${name}.streamed`;
    const transport = await NatsTransport.connect({ servers: server().url });
    cleanups.push(() => transport.close());
    expect(transport.maxPayloadBytes).toBe(MAX_PAYLOAD);
    await transport.ensureStream({ name: streamName, subjects: [streamed] });
    const outputs: number[] = [];
    const run = await runTopology(
      defineTopology(name, (t) =>
        merge(t.source<number>(core), t.stream<number>(streamName, streamed)).pipe(
          map((e: Envelope<number>) => (outputs.push(e.data), e.data)),
          t.sink(`${name}.out`),
        ),
      ),
      { transport, logger: pino({ level: 'silent' }), closeTransport: false },
    );
    cleanups.push(async () => void (await run.stop()));
    await transport.flush();
    transport.publish(core, poison);
    await transport.publishDurable(streamed, poison);
    transport.publish(core, msgpackCodec.encode(1));
    await transport.publishDurable(streamed, msgpackCodec.encode(2));
    const dlq = `SLUICE_DLQ_${name}`;
    await until(async () => (await transport.streamState(dlq)).messages === 2 && outputs.length === 2, { what: 'two dead letters and two outputs' });
    expect(outputs.sort()).toEqual([1, 2]);

    const stored = await readStream(transport, dlq);
    for (const m of stored) expect(wireSize(m)).toBeLessThanOrEqual(MAX_PAYLOAD);
    const records = stored.map((m) => decodeDeadLetter(m.data)).sort((a, b) => a.subject.localeCompare(b.subject));
    expect(records).toMatchObject([
      { subject: core, payloadTruncated: true, payloadBytes: poison.length, error: { name: 'DecodeError' } },
      { subject: streamed, stream: streamName, seq: 1, payloadTruncated: true, payloadBytes: poison.length, error: { name: 'DecodeError' } },
    ]);
    expect(records[0]!.stream).toBeUndefined();
    for (const r of records) expect(r.payload).toEqual(poison.subarray(0, r.payload.length));

    // Replay: the stream message comes back whole from its source stream; the core one cannot.
    const result = await replayDeadLetters(transport, name);
    expect(result.replayed).toBe(1);
    expect(result.failed).toEqual([{ seq: expect.any(Number), reason: expect.stringMatching(/came from no stream/) }]);
    const source = await readStream(transport, streamName);
    expect(source).toHaveLength(3);
    expect(new Uint8Array(source[2]!.data)).toEqual(poison);
    expect(source[2]!.headers['Sluice-Replay-Of']).toMatch(new RegExp(`^${dlq}/\\d+$`));
    // Still poison: parked, cut again, and nothing stops.
    await until(async () => (await readDeadLetters(transport, name, { status: ['parked'] })).entries.length === 1, { what: 'a parked record' });
  });

  it('actor: an undecodable message near max_payload is dead-lettered cut to fit, and the actor carries on', async () => {
    const transport = await NatsTransport.connect({ servers: server().url });
    cleanups.push(() => transport.close());
    const topology = uniqueName('bigactor');
    const input = uniqueName('ACTIN');
    const subject = `${input.toLowerCase()}.cmd`;
    const dir = mkdtempSync(join(tmpdir(), 'sluice-big-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const store = openStateStore({ dir, topology, noSync: true });
    cleanups.push(() => store.close());
    const counter = actor<{ n: number }, { k: string }>({ name: 'counter', key: (m) => m.data.k, initial: () => ({ n: 0 }), handle: (s) => ({ n: s.n + 1 }) });
    const running = await startActor(counter, { transport, store, stream: input, subjects: [subject], batch: { maxCount: 10, maxWaitMs: 5 } });
    cleanups.push(() => running.stop());
    await transport.publishDurable(subject, poison);
    const last = (await transport.publishDurable(subject, msgpackCodec.encode({ k: 'a' }))).seq;
    await running.engine.settled(last);
    expect((await queryActorState<{ n: number }>(transport, { topology, actor: 'counter' }, 'a', { timeoutMs: 2_000 })).state).toEqual({ n: 1 });
    const dlq = `SLUICE_DLQ_${topology}`;
    await until(async () => (await transport.streamState(dlq)).messages === 1, { what: 'the dead letter' });
    const [m] = await readStream(transport, dlq);
    expect(m!.subject).toBe(`sluice.dlq.${topology}.counter`);
    expect(wireSize(m!)).toBeLessThanOrEqual(MAX_PAYLOAD);
    expect(decodeDeadLetter(m!.data)).toMatchObject({ operator: 'actor:counter', stream: input, seq: 1, payloadTruncated: true, payloadBytes: poison.length });
    expect(running.stats()).toMatchObject({ handled: 1, deadLettered: 1 });
  });
});
