/**
 * Crash-test child: runs one topology fixture (test/crash/topologies/*) with `runTopology` on a
 * `NatsTransport` connected to the test's nats-server, as `sluice run` would. It prints `ready`
 * once the topology runs (its engines started), and from the moment it is built `p <json>`
 * whenever its counters move (received, published,
 * dead letters, values that reached a sink after their input settled, and the largest RSS seen),
 * and on exit `done <json>`. SIGTERM drains the run (exit 0); a failed run exits 2. The parent
 * SIGKILLs it at chosen moments and starts it again.
 *
 * Usage: node --conditions=sluice-source --import tsx test/crash/topology-child.ts '<json config>'
 */
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { NatsTransport, runTopology, type RunningTopology, type Topology } from '../../src/index.js';

/** What the parent passes (as JSON on the command line). */
export interface TopologyChildConfig {
  url: string;
  /** Absolute path of the fixture module; its default export makes the topology from `params`. */
  fixture: string;
  params: Readonly<Record<string, unknown>>;
  /** Where the run keeps its LMDB state (runTopology's `stateDir`). Default `SLUICE_STATE_DIR`, else `./.sluice/state`. */
  stateDir?: string | undefined;
  /** How often counters are sampled (and RSS measured), ms. Default 10. */
  sampleEveryMs?: number | undefined;
}

/** One `p` / `done` line. */
export interface ChildProgress {
  received: number;
  published: number;
  deadLetters: number;
  unsettledOutputs: number;
  maxRssBytes: number;
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as TopologyChildConfig;
const mod = (await import(pathToFileURL(cfg.fixture).href)) as { default: (params: unknown) => Topology };
const topology = mod.default(cfg.params);
const transport = await NatsTransport.connect({ servers: cfg.url, name: `crash-${topology.name}`, maxReconnectAttempts: -1 });
// Progress from the moment the topology is built, not from when runTopology resolves (after its
// engines have started, while its sources already read): a test can then kill the child at any
// point of its start, mid-read included.
let stats: RunningTopology['stats'] | undefined;
let maxRssBytes = 0;
let last = '';
const sample = (): ChildProgress => {
  maxRssBytes = Math.max(maxRssBytes, process.memoryUsage.rss());
  return {
    received: stats?.total('received') ?? 0,
    published: stats?.total('published') ?? 0,
    deadLetters: stats?.deadLetters ?? 0,
    unsettledOutputs: stats?.snapshot().unsettledOutputs ?? 0,
    maxRssBytes,
  };
};
const sampler = setInterval(() => {
  const line = JSON.stringify(sample());
  if (line !== last) process.stdout.write(`p ${(last = line)}\n`);
}, cfg.sampleEveryMs ?? 10);
const observed: Topology = { ...topology, build: (t) => ((stats = t.stats), topology.build(t)) };
const run = await runTopology(observed, {
  transport,
  stateDir: cfg.stateDir,
  logger: pino({ level: 'warn' }, pino.destination(2)),
  report: () => undefined,
});
process.once('SIGTERM', () => void run.stop());

process.stdout.write('ready\n');

const exit = await run.done;
clearInterval(sampler);
process.stdout.write(`done ${JSON.stringify({ ...sample(), reason: exit.reason })}\n`);
if (exit.reason === 'failed') process.stderr.write(`run failed: ${exit.error?.stack ?? exit.error}\n`);
process.exit(exit.reason === 'failed' ? 2 : 0);
