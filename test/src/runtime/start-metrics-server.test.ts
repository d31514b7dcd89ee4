import { pino } from 'pino';
import { from, mergeMap } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { microBatch } from '../../../operators/micro-batch.js';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import type { Envelope } from '../../../src/envelope/envelope.js';
import { defineTopology } from '../../../src/runtime/define-topology.js';
import { runTopology, type RunningTopology } from '../../../src/runtime/run-topology.js';
import { startMetricsServer, type MetricsServer } from '../../../src/runtime/start-metrics-server.js';
import { LocalTransport } from '../../../src/transport/local/local-transport.js';
import { prometheusSample as sample } from '../../helpers/prometheus-sample.js';
import { until } from '../../helpers/until.js';

const silent = pino({ level: 'silent' });
const open: Array<{ close(): Promise<unknown> } | RunningTopology> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await ('close' in o ? o.close() : o.stop());
});

describe('startMetricsServer', () => {
  it('serves the runtime counters, end-to-end latency and batch sizes in the Prometheus text format', async () => {
    const transport = new LocalTransport();
    await transport.ensureStream({ name: 'IN', subjects: ['in.>'] });
    await transport.ensureStream({ name: 'OUT', subjects: ['out.>'] });
    // Events that happened 2 s before they were read: every latency lands between 1 s and 5 s.
    const eventTime = String(Date.now() - 2_000);
    for (let i = 0; i < 10; i++) await transport.publishDurable('in.x', msgpackCodec.encode({ i }), { headers: { 'Sluice-Event-Time': eventTime } });

    const metrics: MetricsServer = await startMetricsServer({ topologyName: 'm', port: 0, logger: silent });
    open.push(metrics);
    const topology = defineTopology('m', (t) =>
      t.stream<{ i: number }>('IN', 'in.>').pipe(
        microBatch<Envelope<{ i: number }>>({ maxCount: 5, maxWaitMs: 60_000 }),
        mergeMap((batch) => from(batch)),
        t.sink('out.x', { durable: true }),
      ),
    );
    const running = await runTopology(topology, {
      transport,
      logger: silent,
      report: () => undefined,
      closeTransport: false,
      service: false,
      statsObserver: metrics.observer,
    });
    open.push(running);
    metrics.attach(running.stats);
    await until(async () => (await transport.streamState('OUT')).messages === 10, { what: '10 outputs' });
    await until(() => running.stats.unsettled === 0, { what: 'inputs settled' });

    const res = await fetch(metrics.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    const m = { topology: 'm' };
    expect(sample(text, 'sluice_events_received_total', { ...m, subject: 'in.x' })).toBe(10);
    expect(sample(text, 'sluice_events_published_total', { ...m, subject: 'out.x' })).toBe(10);
    expect(sample(text, 'sluice_dead_letters_total', m)).toBe(0);
    expect(sample(text, 'sluice_unsettled_messages', m)).toBe(0);
    expect(sample(text, 'sluice_unsettled_outputs_total', m)).toBe(0);
    const latency = { ...m, subject: 'out.x' };
    expect(sample(text, 'sluice_end_to_end_latency_seconds_count', latency)).toBe(10);
    expect(sample(text, 'sluice_end_to_end_latency_seconds_bucket', { ...latency, le: '1' })).toBe(0);
    expect(sample(text, 'sluice_end_to_end_latency_seconds_bucket', { ...latency, le: '5' })).toBe(10);
    const batches = { ...m, operator: 'microBatch', name: '' };
    expect(sample(text, 'sluice_batch_size_count', batches)).toBe(2);
    expect(sample(text, 'sluice_batch_size_sum', batches)).toBe(10);
    expect(sample(text, 'sluice_batch_size_bucket', { ...batches, le: '2' })).toBe(0);
    expect(sample(text, 'sluice_batch_size_bucket', { ...batches, le: '5' })).toBe(2);
    expect(sample(text, 'process_resident_memory_bytes', m)).toBeGreaterThan(0);

    expect((await fetch(metrics.url.replace('/metrics', '/'))).status).toBe(404);
  });

  it('bounds the subject label: past 1,000 subjects latencies count under (other)', async () => {
    const metrics = await startMetricsServer({ topologyName: 'b', port: 0, logger: silent });
    open.push(metrics);
    for (let i = 0; i < 1_005; i++) metrics.observer.published(`orders.${i}`, Date.now());
    metrics.observer.published('orders.0', undefined); // no event time: not observed
    const text = await (await fetch(metrics.url)).text();
    expect(sample(text, 'sluice_end_to_end_latency_seconds_count', { topology: 'b', subject: 'orders.999' })).toBe(1);
    expect(sample(text, 'sluice_end_to_end_latency_seconds_count', { topology: 'b', subject: 'orders.1000' })).toBeUndefined();
    expect(sample(text, 'sluice_end_to_end_latency_seconds_count', { topology: 'b', subject: '(other)' })).toBe(5);
    expect(sample(text, 'sluice_end_to_end_latency_seconds_count', { topology: 'b', subject: 'orders.0' })).toBe(1);
  });

  it('GET /healthz answers while the process runs; GET /readyz is 503 until the topology is attached, then 200', async () => {
    const metrics = await startMetricsServer({ topologyName: 'probes', port: 0, logger: silent });
    open.push(metrics);
    const at = (path: string) => metrics.url.replace(/\/metrics$/, path);
    expect(await (await fetch(at('/healthz'))).text()).toBe('ok\n');
    const before = await fetch(at('/readyz'));
    expect(before.status).toBe(503);
    expect(await before.json()).toEqual({ ready: false, reasons: ['the topology has not started yet'] });
    const transport = new LocalTransport();
    const running = await runTopology(
      defineTopology('probes', (t) => t.source('probes.in').pipe(t.sink('probes.out'))),
      { transport, logger: silent, report: () => undefined },
    );
    open.push(running);
    metrics.attach(running.stats);
    const after = await fetch(at('/readyz'));
    expect(after.status).toBe(200);
    expect(await after.json()).toEqual({ ready: true, reasons: [] });
    expect((await fetch(at('/nothing'))).status).toBe(404);
  });

  it('GET /readyz turns 503 as soon as the topology begins to stop, while it drains', async () => {
    const metrics = await startMetricsServer({ topologyName: 'draining', port: 0, logger: silent });
    open.push(metrics);
    let release!: () => void;
    const drainHeld = new Promise<void>((resolve) => (release = resolve));
    const running = await runTopology(
      defineTopology('draining', (t) => {
        t.onStop(() => drainHeld);
        return t.source('draining.in').pipe(t.sink('draining.out'));
      }),
      { transport: new LocalTransport(), logger: silent, report: () => undefined },
    );
    metrics.attach(running.stats);
    const readyz = metrics.url.replace(/\/metrics$/, '/readyz');
    expect((await fetch(readyz)).status).toBe(200);
    const stopped = running.stop();
    const during = await fetch(readyz);
    expect(during.status).toBe(503);
    expect(await during.json()).toEqual({ ready: false, reasons: ['the topology is stopping (stopped) and draining'] });
    release();
    expect((await stopped).reason).toBe('stopped');
    expect((await fetch(readyz)).status).toBe(503);
  });

  it('close stops serving and frees the port', async () => {
    const metrics = await startMetricsServer({ topologyName: 'n', port: 0, logger: silent });
    expect((await fetch(metrics.url)).status).toBe(200);
    await metrics.close();
    await expect(fetch(metrics.url)).rejects.toThrow();
  });
});
