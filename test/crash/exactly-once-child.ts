/**
 * Crash-test child: runs the exactly-once engine (per-key counter, see counter-model.ts) over a
 * stream until input up to `lastSeq` is settled, printing `ready`, then `pos <seq>` whenever its
 * committed position moves, then `done`. The parent SIGKILLs it at random moments and restarts it.
 *
 * Usage: node --import tsx test/crash/exactly-once-child.ts '<json config>'
 */
import { connect } from '@nats-io/transport-node';
import { startExactlyOnce } from '../../src/exactly-once/start-exactly-once.js';
import { openStateStore } from '../../src/state/open-state-store.js';
import { NatsTransport } from '../../src/transport/nats/nats-transport.js';
import { counterProcessor } from '../src/exactly-once/counter-model.js';

interface ChildConfig {
  url: string;
  dir: string;
  stream: string;
  outSubject: string;
  lastSeq: number;
  maxCount: number;
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
// The raw client for a short reconnect wait (the server is killed and restarted); the engine
// itself only sees the transport.
const transport = new NatsTransport(await connect({ servers: cfg.url, noAsyncTraces: true, maxReconnectAttempts: -1, reconnectTimeWait: 100 }));
const store = openStateStore({ dir: cfg.dir, topology: 'crash' });
const engine = await startExactlyOnce({
  name: 'counter',
  transport,
  store,
  source: { stream: cfg.stream },
  batch: { maxCount: cfg.maxCount, maxWaitMs: 2 },
  outputs: { ackTimeoutMs: 1000 },
  process: counterProcessor(cfg.outSubject),
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
  if (engine.position !== last) {
    last = engine.position;
    process.stdout.write(`pos ${last}\n`);
  }
}, 2);
engine.done.catch((err: unknown) => {
  process.stderr.write(`engine failed: ${(err as Error).stack}\n`);
  process.exit(2);
});
await engine.settled(cfg.lastSeq);
await engine.stop();
clearInterval(report);
process.stdout.write(`pos ${engine.position}\ndone ${JSON.stringify(engine.stats)}\n`);
await store.close();
await transport.close();
