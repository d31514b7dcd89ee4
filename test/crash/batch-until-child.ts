/**
 * Crash-test child: runs `startDurableBatch` (echo flush: one output per value, carrying its input
 * sequence) until input up to `lastSeq` is settled. Prints `ready`, `pos <seq>` when the committed
 * input position moves, `flush <batchSeq> <from>` as each flush chunk starts (before it commits),
 * then `done <stats>`. The parent SIGKILLs it at chosen moments and restarts it.
 *
 * Usage: node --import tsx test/crash/batch-until-child.ts '<json config>'
 */
import { connect } from '@nats-io/transport-node';
import { startDurableBatch } from '../../src/exactly-once/start-durable-batch.js';
import { openStateStore } from '../../src/state/open-state-store.js';
import { NatsTransport } from '../../src/transport/nats/nats-transport.js';
import { echoFlush } from '../src/exactly-once/durable-batch-model.js';

interface ChildConfig {
  url: string;
  dir: string;
  stream: string;
  triggerSubject: string;
  outSubject: string;
  lastSeq: number;
  chunkSize: number;
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
const transport = new NatsTransport(await connect({ servers: cfg.url, noAsyncTraces: true, maxReconnectAttempts: -1, reconnectTimeWait: 100 }));
const store = openStateStore({ dir: cfg.dir, topology: 'crash' });
const echo = echoFlush(cfg.outSubject);
const handle = await startDurableBatch({
  name: 'nightly',
  transport,
  store,
  source: { stream: cfg.stream },
  triggerSubjects: [cfg.triggerSubject],
  chunkSize: cfg.chunkSize,
  batch: { maxCount: 256, maxWaitMs: 2 },
  // A small window spreads a chunk's publishes over several ack round trips: kills land mid-publish.
  outputs: { ackTimeoutMs: 1000, maxInFlight: 200 },
  flush: (chunk, emit, info) => {
    process.stdout.write(`flush ${info.batchSeq} ${info.from}\n`);
    return echo(chunk, emit, info);
  },
  logger: {
    debug() {},
    info() {},
    warn: (o, m) => process.stderr.write(`WARN ${m} ${JSON.stringify(o)}\n`),
    error: (o, m) => process.stderr.write(`ERROR ${m} ${JSON.stringify(o)}\n`),
  },
});
process.stdout.write('ready\n');
let last = -1;
const report = setInterval(() => {
  const pos = handle.stats.position;
  if (pos !== last) {
    last = pos;
    process.stdout.write(`pos ${pos}\n`);
  }
}, 2);
handle.done.catch((err: unknown) => {
  process.stderr.write(`durable batch failed: ${(err as Error).stack}\n`);
  process.exit(2);
});
await handle.settled(cfg.lastSeq);
await handle.stop();
clearInterval(report);
process.stdout.write(`done ${JSON.stringify(handle.stats)}\n`);
await store.close();
await transport.close();
