import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logger.js';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { observeBatches } from '../observe/batch-observer.js';
import { readinessOf } from '../observe/readiness-of.js';
import { MAX_TRACKED_SUBJECTS, OTHER_SUBJECTS, type RuntimeStats, type StatsObserver } from '../observe/runtime-stats.js';
import { registerPartMetrics } from './register-part-metrics.js';
import { allDeadLetters } from './topology-stats.js';

/** Options for {@link startMetricsServer}. */
export interface MetricsServerOptions {
  topologyName: string;
  /** 0 picks a free port. */
  port: number;
  /** Default `127.0.0.1`; `0.0.0.0` to be scraped from other hosts. */
  host?: string | undefined;
  logger: Logger;
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** `http://host:port/metrics`. */
  readonly url: string;
  /** Pass to `runTopology({ statsObserver })`: feeds the end-to-end latency histogram. */
  readonly observer: StatsObserver;
  /** The running topology's counters, read at each scrape. */
  attach(stats: RuntimeStats): void;
  /** Stops serving and stops observing batches; idempotent. */
  close(): Promise<void>;
}

/** Seconds from 1 ms to a day: real-time paths sit at the low end, nightly batches at the top. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400];
const BATCH_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 50000, 100000, 1000000];

/**
 * Serves `GET /metrics` in the Prometheus text format: the runtime's counters (events received
 * and published per subject, dead letters, unsettled messages and outputs) and every part's
 * (in, out, dead letters, unsettled, outbox, actors, lag, state: `registerPartMetrics`), read
 * from `RuntimeStats` at scrape time so they add nothing per event; a histogram of end-to-end latency
 * per output subject (the output's event time to its publish — the stream's ack for a durable
 * sink); a histogram of batch sizes per batching operator; and Node's process metrics. The
 * subject label is bounded like the stats (past 1000 subjects, `(other)`).
 *
 * Beside it, for an orchestrator's probes: `GET /healthz` answers 200 while the process's event
 * loop does (liveness); `GET /readyz` answers 200 `{"ready":true,"reasons":[]}` once the topology
 * is attached (started), its broker connection is up and no part is starting or failed, else 503
 * with the reasons (`readinessOf`).
 *
 * @example
 * const metrics = await startMetricsServer({ topologyName: 'orders', port: 9464, logger });
 * const running = await runTopology(topology, { transport, statsObserver: metrics.observer });
 * metrics.attach(running.stats);
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const registry = new Registry();
  registry.setDefaultLabels({ topology: options.topologyName });
  collectDefaultMetrics({ register: registry });
  let stats: RuntimeStats | undefined;

  const fromSnapshot = (name: string, help: string, kind: 'received' | 'published') =>
    new Counter({
      name,
      help,
      labelNames: ['subject'],
      registers: [registry],
      collect() {
        this.reset();
        if (stats === undefined) return;
        for (const [subject, n] of Object.entries(stats.snapshot()[kind])) this.inc({ subject }, n);
      },
    });
  fromSnapshot('sluice_events_received_total', 'Messages received by the topology, per subject.', 'received');
  fromSnapshot('sluice_events_published_total', 'Messages published by the topology (sinks, per subject).', 'published');
  new Counter({
    name: 'sluice_dead_letters_total',
    help: "Messages sent to the dead letters: the runtime's and those actors, durable batches and windows wrote.",
    registers: [registry],
    collect() {
      this.reset();
      if (stats !== undefined) this.inc(allDeadLetters(stats));
    },
  });
  new Gauge({
    name: 'sluice_unsettled_messages',
    help: 'Stream messages delivered whose effects are still in progress (not yet acknowledged).',
    registers: [registry],
    collect() {
      this.set(stats?.unsettled ?? 0);
    },
  });
  new Counter({
    name: 'sluice_unsettled_outputs_total',
    help: 'Outputs that reached a sink after their input was acknowledged (an async stage Sluice cannot see); should stay 0.',
    registers: [registry],
    collect() {
      this.reset();
      if (stats !== undefined) this.inc(stats.snapshot().unsettledOutputs);
    },
  });
  registerPartMetrics(registry, () => stats);
  const latency = new Histogram({
    name: 'sluice_end_to_end_latency_seconds',
    help: "From an output's event time to its publish (a durable sink: the stream's ack), per output subject.",
    labelNames: ['subject'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const batchSize = new Histogram({
    name: 'sluice_batch_size',
    help: 'Values per emitted batch, per batching operator (microBatch, microBatchProcess, batchUntil, window) and name.',
    labelNames: ['operator', 'name'],
    buckets: BATCH_BUCKETS,
    registers: [registry],
  });

  const subjects = new Set<string>();
  const labelOf = (subject: string): string => {
    if (subjects.has(subject)) return subject;
    if (subjects.size >= MAX_TRACKED_SUBJECTS) return OTHER_SUBJECTS;
    subjects.add(subject);
    return subject;
  };
  const observer: StatsObserver = {
    published(subject, eventTimeMs) {
      if (eventTimeMs === undefined) return;
      latency.observe({ subject: labelOf(subject) }, Math.max(0, Date.now() - eventTimeMs) / 1000);
    },
  };
  observeBatches((operator, name, size) => batchSize.observe({ operator, name }, size));

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
      return;
    }
    if (req.method === 'GET' && path === '/readyz') {
      const readiness = readinessOf(stats);
      res.writeHead(readiness.ready ? 200 : 503, { 'Content-Type': 'application/json' }).end(`${JSON.stringify(readiness)}\n`);
      return;
    }
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('metrics are at GET /metrics, liveness at GET /healthz, readiness at GET /readyz\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(text),
      (err: unknown) => {
        options.logger.error({ err }, 'metrics: collecting failed');
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end('collecting metrics failed\n');
      },
    );
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}/metrics`,
    observer,
    attach(next) {
      stats = next;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        observeBatches(undefined);
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
