import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { pino } from 'pino';
import { from } from 'rxjs';
import { afterAll, expect, it } from 'vitest';
import { microBatchProcess } from '../../operators/micro-batch-process.js';
import { msgpackCodec } from '../../src/codec/msgpack-codec.js';
import type { Envelope } from '../../src/envelope/envelope.js';
import { defineTopology } from '../../src/runtime/define-topology.js';
import { runTopology } from '../../src/runtime/run-topology.js';
import { NatsTransport } from '../../src/transport/nats/nats-transport.js';
import { uniqueName, useNatsServer } from '../helpers/nats-server.js';

/*
 * The reported bug: a micro-batch-to-files topology restarted over its backlog died with
 * BufferOverflowError. Here a stream holds a backlog of 20,000 messages before the topology
 * starts, the source may keep 5,000 unsettled (more than microBatchProcess's maxBufferedCount of
 * 1,000) and the file writes are slow: every message must be written once, nothing lost, no
 * error, and the process's RSS must stay within RSS_GROWTH_BOUND_BYTES (128 MiB; about 35-40 MiB
 * measured on the 2-core machine) of where it started. Before the fix this run ended with
 * BufferOverflowError after its first batch.
 */
const BACKLOG = 20_000;
const RSS_GROWTH_BOUND_BYTES = 128 * 1024 * 1024;

const server = useNatsServer();
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

it('restarts over a 20,000-message backlog: every message written once, no error, bounded memory', { timeout: 120_000 }, async () => {
  const stream = uniqueName('BACKLOG');
  const subject = `${stream}.in`;
  const dir = await mkdtemp(join(tmpdir(), 'sluice-backlog-'));
  dirs.push(dir);
  const file = join(dir, 'out.jsonl');

  const publisher = await NatsTransport.connect({ servers: server().url });
  await publisher.ensureStream({ name: stream, subjects: [subject] });
  const pad = 'x'.repeat(100);
  for (let i = 0; i < BACKLOG; i += 500) {
    const window: Promise<unknown>[] = [];
    for (let n = i; n < Math.min(BACKLOG, i + 500); n++) window.push(publisher.publishDurable(subject, msgpackCodec.encode({ n, pad })));
    await Promise.all(window);
  }
  expect((await publisher.streamState(stream)).messages).toBe(BACKLOG);

  let written = 0;
  const topology = defineTopology('backlog', (t) =>
    t.stream<{ n: number }>(stream, subject, { maxUnsettled: 5_000 }).pipe(
      microBatchProcess<Envelope<{ n: number }>, number>({
        maxCount: 500,
        maxWaitMs: 100,
        maxBufferedCount: 1_000,
        // A slow disk: each batch's write takes at least 20 ms, so the backlog piles up meanwhile.
        process: (batch) =>
          from(
            Promise.all([appendFile(file, batch.map((e) => `${e.data.n}\n`).join('')), new Promise((resolve) => setTimeout(resolve, 20))]).then(
              () => (written += batch.length),
            ),
          ),
      }),
    ),
  );

  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 20);
  const transport = await NatsTransport.connect({ servers: server().url });
  const run = await runTopology(topology, { transport, logger: pino({ level: 'silent' }), report: () => undefined, service: false });
  const jsm = await jetstreamManager(publisher.nc);
  const durable = `sluice_backlog_${stream}`;
  let ended = false;
  void run.done.then(() => (ended = true));
  const startedAt = Date.now();
  while (!ended) {
    const info = await jsm.consumers.info(stream, durable).catch(() => undefined);
    if (written >= BACKLOG && info !== undefined && info.num_pending === 0 && info.num_ack_pending === 0) break;
    if (Date.now() - startedAt > 100_000)
      throw new Error(`stuck: written ${written}, consumer ${JSON.stringify({ pending: info?.num_pending, ackPending: info?.num_ack_pending })}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // Stops the run, or (when the pipeline failed, as before the fix) returns how it ended.
  const exit = await run.stop();
  clearInterval(sampler);
  await publisher.close();

  expect(exit.reason).toBe('stopped');
  expect(exit.error).toBeUndefined();
  const lines = (await readFile(file, 'utf8')).trim().split('\n').map(Number);
  expect(lines).toHaveLength(BACKLOG);
  expect(new Set(lines).size).toBe(BACKLOG);
  const growth = rssPeak - rssBefore;
  console.log(
    `backlog ${BACKLOG}: ${Date.now() - startedAt} ms, RSS before ${(rssBefore / 2 ** 20).toFixed(1)} MiB, peak growth ${(growth / 2 ** 20).toFixed(1)} MiB (bound ${RSS_GROWTH_BOUND_BYTES / 2 ** 20} MiB)`,
  );
  expect(growth).toBeLessThan(RSS_GROWTH_BOUND_BYTES);
});
