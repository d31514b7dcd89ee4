import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { pino } from 'pino';
import { firstValueFrom, map, take, toArray } from 'rxjs';
import { afterAll, expect, it } from 'vitest';
import { microBatch } from '../../operators/micro-batch.js';
import { decodeEnvelope } from '../../src/codec/decode-envelope.js';
import { msgpackCodec } from '../../src/codec/msgpack-codec.js';
import { defineTopology } from '../../src/runtime/define-topology.js';
import { describeTopology } from '../../src/runtime/describe-topology.js';
import { runTopology } from '../../src/runtime/run-topology.js';
import { GroupLog } from '../../src/settle/group-log.js';
import { openStateStore } from '../../src/state/open-state-store.js';
import type { StateStore } from '../../src/state/types.js';
import { NatsTransport } from '../../src/transport/nats/nats-transport.js';
import { uniqueName, useNatsServer } from '../helpers/nats-server.js';

/*
 * stream -> microBatch({ groups }) -> durable sink on a real nats-server: one output per recorded
 * group, its Nats-Msg-Id derived from the group key, and a second consumer that reads every input
 * again (as after a crash that lost every ack) publishes nothing: each input is found in a
 * published group and acknowledged.
 */
const INPUTS = 2_000;
const server = useNatsServer();
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

it('publishes one output per recorded group, with ids from the group key; a full re-read publishes nothing', { timeout: 60_000 }, async () => {
  const stream = uniqueName('RECIN');
  const outStream = uniqueName('RECOUT');
  const dir = await mkdtemp(join(tmpdir(), 'sluice-recorded-'));
  dirs.push(dir);
  const admin = await NatsTransport.connect({ servers: server().url });
  await admin.ensureStream({ name: stream, subjects: [`${stream}.in`] });
  await admin.ensureStream({ name: outStream, subjects: [`${outStream}.out`] });
  for (let i = 0; i < INPUTS; i += 500) {
    await Promise.all(Array.from({ length: 500 }, (_, k) => admin.publishDurable(`${stream}.in`, msgpackCodec.encode({ n: i + k }))));
  }

  const topology = (store: StateStore, durableName: string) =>
    defineTopology('recorded', (t) =>
      t.stream<{ n: number }>(stream, `${stream}.in`, { durableName, maxUnsettled: 1_000 }).pipe(
        microBatch({ maxCount: 100, maxWaitMs: 50, groups: { store, name: 'files' } }),
        map((batch) => batch.map((e) => e.data.n)),
        t.sink(`${outStream}.out`, { durable: true, name: 'out' }),
      ),
    );
  const store = openStateStore({ dir, topology: 'recorded', noSync: true });
  expect(describeTopology(topology(store, 'first')).paths.map((p) => p.guarantee)).toEqual(['exactly-once']);

  const jsm = await jetstreamManager(admin.nc);
  const runUntilSettled = async (durableName: string): Promise<void> => {
    const transport = await NatsTransport.connect({ servers: server().url });
    const run = await runTopology(topology(store, durableName), { transport, logger: pino({ level: 'silent' }), report: () => undefined, service: false });
    const startedAt = Date.now();
    for (;;) {
      const info = await jsm.consumers.info(stream, durableName).catch(() => undefined);
      if (info !== undefined && info.delivered.stream_seq >= INPUTS && info.num_pending === 0 && info.num_ack_pending === 0) break;
      if (Date.now() - startedAt > 40_000) throw new Error(`stuck: ${JSON.stringify({ pending: info?.num_pending, ackPending: info?.num_ack_pending })}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const exit = await run.stop();
    expect(exit.reason).toBe('stopped');
  };

  await runUntilSettled('first');
  const afterFirst = (await admin.streamState(outStream)).messages;
  const outputs = await firstValueFrom(admin.consume({ stream: outStream }).pipe(take(afterFirst), toArray()));
  const log = new GroupLog({ store, name: 'files', now: () => Date.now() });
  const seen = new Set<number>();
  for (const msg of outputs) {
    const ns = decodeEnvelope<number[]>(msg).data;
    for (const n of ns) {
      expect(seen.has(n), `input ${n} in two outputs`).toBe(false);
      seen.add(n);
    }
    // The id is <topology>.<sink>.<group key>.0, and the group log knows that group, published.
    const group = log.groupOf(`${stream}:${ns[0]! + 1}`)!;
    expect(group.publishedAt).toBeDefined();
    expect(group.members).toEqual(ns.map((n) => `${stream}:${n + 1}`));
    expect(msg.headers['Nats-Msg-Id']).toBe(`recorded.out.${group.key}.0`);
  }
  expect(seen.size).toBe(INPUTS);

  await runUntilSettled('second');
  expect((await admin.streamState(outStream)).messages).toBe(afterFirst);
  await store.close();
  await admin.close();
});
