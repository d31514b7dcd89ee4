/**
 * Memory of a triggered batch of a million events (issue 15: ≤ 150 MiB peak RSS, spilled to
 * disk and flushed in chunks): by default in the durable `fileBatchBuffer` (`--buffer file`), or
 * in an `lmdbBatchBuffer` (`--buffer lmdb`) or in memory (`--buffer memory`) to compare. The bench mode's pipeline, in process and without NATS so the
 * figure is the batch's own: each order event (a fresh copy of pooled bytes, as a message off the
 * wire is) is decoded into an envelope like the runtime's source does, routed by the bench's rule,
 * reduced to its target and bytes (`batchItemOf`), and held by `batchUntil` until one trigger
 * after the last event; the batch is then read in chunks and turned into the mode's output
 * messages (one MessagePack array per target per chunk), which are counted and dropped.
 *
 * Events arrive `--burst` per event-loop turn (as a socket read delivers them), so a durable
 * buffer commits once per turn. Memory is sampled every 20 ms from /proc/self/status: `VmHWM` is
 * the peak RSS; `RssAnon` is what the process itself holds (heap, buffers); `RssFile` is mapped
 * file pages — for LMDB, the pages of the store read back through its memory map, which the
 * kernel may drop at will (they are page cache) but which count in RSS until it does.
 *
 * Run: node --conditions=sluice-source --import tsx bench/triggered-batch-rss.bench.ts
 *        [--events 1000000] [--buffer file|lmdb|memory] [--chunk 1000] [--burst 500] [--json]
 * Prints one JSON document (fields: {@link TriggeredBatchRssResult}); without `--json` a summary line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { concatMap, EMPTY, filter, finalize, map, Subject, type Observable } from 'rxjs';
import { batchUntil } from '../operators/batch-until.js';
import { onSubject } from '../operators/on-subject.js';
import { route, type Routed } from '../operators/route.js';
import { decodeEnvelope } from '../src/codec/decode-envelope.js';
import { makeEnvelope } from '../src/envelope/make-envelope.js';
import type { Envelope } from '../src/envelope/envelope.js';
import { fileBatchBuffer } from '../src/state/file-batch-buffer.js';
import { lmdbBatchBuffer } from '../src/state/lmdb-batch-buffer.js';
import { openStateStore } from '../src/state/open-state-store.js';
import type { StateStore } from '../src/state/types.js';
import { batchItemOf, batchPayloads, type BatchItem } from './modes/batch-payload.js';
import { orderRouteConfig } from './modes/order-routing.js';
import { largerMemory, mib, peakRssMiB, sampleMemory, type MemorySample } from './memory-sample.js';
import { makeOrderPool, type OrderEvent, type OrderTarget } from './workload.js';

/** Memory at one instant, MiB. */
export type { MemorySample } from './memory-sample.js';

/** The JSON document of a run. */
export interface TriggeredBatchRssResult {
  bench: 'triggered-batch-rss';
  date: string;
  node: string;
  load: number;
  events: number;
  buffer: 'lmdb' | 'file' | 'memory';
  chunk: number;
  /** Sum of the events' encoded sizes, MiB: what the batch holds. */
  eventMiB: number;
  /** Peak RSS of the whole process (`VmHWM`), MiB: the target's figure (≤ 150). */
  peakRssMiB: number;
  /** Before the first event, MiB. */
  start: MemorySample;
  /** Largest figures while accumulating and while flushing, MiB. */
  accumulate: MemorySample;
  flush: MemorySample;
  accumulateMs: number;
  flushMs: number;
  /** Values flushed (= events), output messages and their bytes. */
  flushed: number;
  outputs: number;
  outputMiB: number;
  lmdbCommits: number;
  /** Process CPU (user + system) per event, µs, accumulate and flush together. */
  cpuUsPerEvent: number;
}

/** Options of {@link runTriggeredBatchRss}. */
export interface TriggeredBatchRssOptions {
  events?: number | undefined;
  buffer?: 'lmdb' | 'file' | 'memory' | undefined;
  chunk?: number | undefined;
  burst?: number | undefined;
}

/** Pushes `events` events into one triggered batch, fires the trigger, flushes it in chunks, and measures. */
export async function runTriggeredBatchRss(options: TriggeredBatchRssOptions = {}): Promise<TriggeredBatchRssResult> {
  const events = options.events ?? 1_000_000;
  const kind = options.buffer ?? 'file';
  const chunk = options.chunk ?? 1000;
  const burst = options.burst ?? 500;
  const pool = makeOrderPool({ seed: 1 });
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-tbr-'));
  const store: StateStore | undefined = kind === 'lmdb' ? openStateStore({ dir, topology: 'bench-triggered' }) : undefined;
  const files = kind === 'file' ? fileBatchBuffer<BatchItem>({ dir: join(dir, 'batch') }) : undefined;
  const buffer = store !== undefined ? lmdbBatchBuffer<BatchItem>({ store, name: 'orders' }) : files;
  const outSubject = (t: OrderTarget): string => `bench.out.${t}`;
  const rule = orderRouteConfig({ url: '', inSubject: 'bench.in', outSubject, deadLetterSubject: 'bench.dlq', workDir: dir, params: {} });
  const input = new Subject<Envelope<OrderEvent>>();
  const fire = new Subject<void>();
  let eventBytes = 0;
  let flushed = 0;
  let outputs = 0;
  let outputBytes = 0;
  let phase: 'accumulate' | 'flush' = 'accumulate';
  const start = sampleMemory();
  const peak = { accumulate: start, flush: start };
  const sampler = setInterval(() => (peak[phase] = largerMemory(peak[phase], sampleMemory())), 20);
  const cpuBefore = process.cpuUsage();
  const commitsBefore = store?.stats.commits ?? 0;
  const started = performance.now();
  let flushStarted: number;
  try {
    const done = new Promise<void>((resolve, reject) => {
      const batches$: Observable<unknown> = input.pipe(
        route(rule),
        filter((r): r is Routed<OrderEvent> => r.kind === 'routed'),
        map(batchItemOf),
        filter((item): item is BatchItem => item !== undefined),
        batchUntil(onSubject(fire.pipe(map(() => ({ subject: 'bench.end' })))), { name: 'orders', buffer, maxItems: events + 1 }),
        concatMap((batch) =>
          batch
            .processChunks(chunk, (values) => {
              for (const [, payload] of batchPayloads(values)) {
                outputs++;
                outputBytes += payload.length;
              }
              flushed += values.length;
              return EMPTY;
            })
            .pipe(finalize(() => batch.release())),
        ),
      );
      batches$.subscribe({ error: reject, complete: resolve });
    });
    await new Promise<void>((resolve) => {
      let i = 0;
      const turn = (): void => {
        for (let n = 0; n < burst && i < events; n++, i++) {
          // A fresh copy per event, as each message off the wire is its own bytes.
          const raw = Buffer.from(pool[i % pool.length]!);
          eventBytes += raw.length;
          input.next(decodeEnvelope<OrderEvent>(makeEnvelope({ subject: 'bench.in', data: raw })));
        }
        if (i < events) setImmediate(turn);
        else setImmediate(resolve);
      };
      turn();
    });
    phase = 'flush';
    peak.flush = sampleMemory();
    flushStarted = performance.now();
    fire.next();
    input.complete();
    await done;
  } finally {
    clearInterval(sampler);
    files?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const ended = performance.now();
  const cpu = process.cpuUsage(cpuBefore);
  peak[phase] = largerMemory(peak[phase], sampleMemory());
  return {
    bench: 'triggered-batch-rss',
    date: new Date().toISOString(),
    node: process.version,
    load: Math.round((await import('node:os')).loadavg()[0]! * 100) / 100,
    events,
    buffer: kind,
    chunk,
    eventMiB: mib(eventBytes),
    peakRssMiB: peakRssMiB(),
    start,
    accumulate: peak.accumulate,
    flush: peak.flush,
    accumulateMs: Math.round(flushStarted - started),
    flushMs: Math.round(ended - flushStarted),
    flushed,
    outputs,
    outputMiB: mib(outputBytes),
    lmdbCommits: (store?.stats.commits ?? 0) - commitsBefore,
    cpuUsPerEvent: Math.round(((cpu.user + cpu.system) / events) * 100) / 100,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string): string | undefined => {
    const at = process.argv.indexOf(`--${name}`);
    return at >= 0 ? process.argv[at + 1] : undefined;
  };
  const num = (name: string): number | undefined => (arg(name) === undefined ? undefined : Number(arg(name)));
  const buffer = arg('buffer');
  if (buffer !== undefined && buffer !== 'lmdb' && buffer !== 'file' && buffer !== 'memory')
    throw new Error(`--buffer must be lmdb, file or memory, got ${buffer}`);
  const r = await runTriggeredBatchRss({ events: num('events'), buffer, chunk: num('chunk'), burst: num('burst') });
  if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(r)}\n`);
  else
    process.stdout.write(
      `${r.events} events (${r.eventMiB} MiB) in a ${r.buffer} batch: peak RSS ${r.peakRssMiB} MiB (start ${r.start.rss}; anon at most ${Math.max(r.accumulate.rssAnon, r.flush.rssAnon)}, file ${Math.max(r.accumulate.rssFile, r.flush.rssFile)}), accumulate ${r.accumulateMs} ms, flush ${r.flushMs} ms, ${r.cpuUsPerEvent} µs CPU/event, load ${r.load}\n`,
    );
}
