/**
 * A period batch of `records` values (one period, `keys` groups) accumulated from JetStream on the
 * exactly-once engine, closed by one close message and flushed in chunks from LMDB: how long each
 * phase takes and how much memory the process holds meanwhile. The claim it backs: a period of
 * millions of values is never in memory — the JS heap and the anonymous RSS (`RssAnon`: heap,
 * buffers; LMDB's file-backed map pages are `RssFile`, which the kernel can drop) and the
 * ArrayBuffers (the values read back live outside the heap) stay flat.
 *
 * Run: node --import tsx bench/period-batch-flush.bench.ts [--records 1000000] [--keys 1] [--chunk 1000] [--pad 100] [--url nats://...]
 * Prints one JSON line (HOUSE-STYLE 15).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { largerMemory, sampleMemory, type MemorySample } from './memory-sample.js';
import { msgpackCodec } from '../src/codec/msgpack-codec.js';
import { startDurableBatch } from '../src/exactly-once/start-durable-batch.js';
import { startNatsServer } from '../src/runtime/nats-server-process.js';
import { openStateStore } from '../src/state/open-state-store.js';
import { NatsTransport } from '../src/transport/nats/nats-transport.js';

/** Options of {@link runPeriodFlushBench}. */
export interface PeriodFlushBenchOptions {
  /** Values in the period. Default 1,000,000. */
  records?: number | undefined;
  /** Groups (keys) the values spread over. Default 1: one group of all values. */
  keys?: number | undefined;
  /** Values per flush chunk. Default 1000. */
  chunkSize?: number | undefined;
  /** Padding per value, bytes. Default 100. */
  padBytes?: number | undefined;
  /** A running nats-server; default: a private one for the run. */
  url?: string | undefined;
}

/** What one run measured. */
export interface PeriodFlushBenchResult {
  bench: string;
  date: string;
  node: string;
  records: number;
  keys: number;
  chunkSize: number;
  /** Values flushed (must equal records) and chunks flushed. */
  flushed: number;
  chunks: number;
  preloadMs: number;
  accumulateMs: number;
  flushMs: number;
  /** Largest figures while accumulating and while flushing, MiB. */
  accumulate: MemorySample;
  flush: MemorySample;
  /** Before the batch started, MiB. */
  start: MemorySample;
}

export async function runPeriodFlushBench(options: PeriodFlushBenchOptions = {}): Promise<PeriodFlushBenchResult> {
  const records = options.records ?? 1_000_000;
  const keys = options.keys ?? 1;
  const chunkSize = options.chunkSize ?? 1000;
  const server = options.url === undefined ? await startNatsServer() : undefined;
  const url = options.url ?? server!.url;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-pfb-'));
  const nc = await connect({ servers: url, noAsyncTraces: true });
  const transport = await NatsTransport.connect({ servers: url });
  const store = openStateStore({ dir, topology: 'bench' });
  const stream = `PFB_${Date.now()}`;
  const sub = stream.toLowerCase();
  try {
    await transport.ensureStream({ name: stream, subjects: [`${sub}.in.>`] });
    await transport.ensureStream({ name: `${stream}_OUT`, subjects: [`${sub}.out`, `${sub}.late`] });
    const preloadStarted = performance.now();
    const pad = 'x'.repeat(options.padBytes ?? 100);
    for (let i = 0; i < records; i++) {
      nc.publish(`${sub}.in.v`, msgpackCodec.encode({ i, pad }));
      if (i % 10_000 === 9_999) await nc.flush();
    }
    nc.publish(`${sub}.in.close`, msgpackCodec.encode({ p: 'p1' }));
    await nc.flush();
    while ((await transport.streamState(stream)).messages < records + 1) await new Promise((r) => setTimeout(r, 50));
    const preloadMs = performance.now() - preloadStarted;

    global.gc?.();
    const start = sampleMemory();
    let phase: 'accumulate' | 'flush' = 'accumulate';
    const peak = { accumulate: start, flush: start };
    const sampler = setInterval(() => (peak[phase] = largerMemory(peak[phase], sampleMemory())), 20);
    let flushed = 0;
    let chunks = 0;
    let flushStarted = 0;
    const started = performance.now();
    const handle = await startDurableBatch({
      name: 'pfb',
      transport,
      store,
      source: { stream },
      triggerSubjects: [`${sub}.in.close`],
      chunkSize,
      periods: { keyOf: (v: { i: number }) => `k${v.i % keys}`, periodOf: () => 'p1', closeOf: (c: { p: string }) => c.p, lateSubject: `${sub}.late` },
      flush: (chunk, emit, info) => {
        if (flushStarted === 0) {
          flushStarted = performance.now();
          phase = 'flush';
        }
        flushed += chunk.length;
        chunks += 1;
        emit(`${sub}.out`, msgpackCodec.encode({ key: info.key, chunk: info.chunk, values: chunk.length, last: info.last }));
      },
    });
    await handle.settled(records + 1);
    const ended = performance.now();
    clearInterval(sampler);
    await handle.stop();
    return {
      bench: `period-batch-flush/${records}x${keys}`,
      date: new Date().toISOString(),
      node: process.versions.node,
      records,
      keys,
      chunkSize,
      flushed,
      chunks,
      preloadMs: Math.round(preloadMs),
      accumulateMs: Math.round((flushStarted || ended) - started),
      flushMs: Math.round(ended - (flushStarted || ended)),
      accumulate: peak.accumulate,
      flush: peak.flush,
      start,
    };
  } finally {
    await store.close();
    await transport.close();
    await nc.close();
    await server?.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string): number | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  const urlAt = process.argv.indexOf('--url');
  const result = await runPeriodFlushBench({
    records: arg('records'),
    keys: arg('keys'),
    chunkSize: arg('chunk'),
    padBytes: arg('pad'),
    url: urlAt > 0 ? process.argv[urlAt + 1] : undefined,
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
