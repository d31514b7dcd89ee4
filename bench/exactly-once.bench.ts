/**
 * Exactly-once benchmark: how close the exactly-once engine gets to the best hand-written loop on
 * the raw NATS v3 client, on the same stream, in the same process, in the same run.
 *
 * - roof: an ordered consumer (`consume` with a callback) decodes each input and publishes one
 *   output with a `Nats-Msg-Id` through core `nc.publish` with a reply inbox, acks collected on
 *   one wildcard subscription (the fastest publish-ack path on this client). At-least-once, no state.
 * - sluice: `startExactlyOnce` with a keyed per-key counter (LMDB state, outbox, checkpoint in one
 *   transaction per micro-batch), one JetStream output per input.
 *
 * The engine runs on a `NatsTransport` wrapping the same connection as the roof (since the engine
 * took a Transport instead of a raw connection; the work measured is unchanged).
 *
 * Run: node --import tsx bench/exactly-once.bench.ts [--events 200000] [--runs 3] [--keys 1000]
 *   [--modes roof,sluice] [--max-count 1024]
 * With SLUICE_EO_CPU_PROF=<dir>, each measured run also writes `<dir>/<mode>-<run>.cpuprofile`
 * (only that run's span, not the preload). GC per event comes from PerformanceObserver 'gc' entries.
 * Prints one JSON line per run and a summary line with medians (HOUSE-STYLE 15).
 * Measurements while other work runs on the machine are noisy: compare the ratio within one run.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { DeliverPolicy, jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { createInbox, headers as natsHeaders, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { Packr } from 'msgpackr';
import { startExactlyOnce } from '../src/exactly-once/start-exactly-once.js';
import type { BatchProcessor } from '../src/exactly-once/types.js';
import { startNatsServer } from '../src/runtime/nats-server-process.js';
import { openStateStore } from '../src/state/open-state-store.js';
import { NatsTransport } from '../src/transport/nats/nats-transport.js';

/** Options of {@link runExactlyOnceBench}. */
export interface ExactlyOnceBenchOptions {
  /** Input events pre-loaded into the stream. Default 200000. */
  events?: number | undefined;
  /** Distinct keys of the per-key counter. Default 1000. */
  keys?: number | undefined;
  /** Measured runs per mode (alternating roof, sluice). Default 3. */
  runs?: number | undefined;
  /** Micro-batch size of the engine. Default 1024. */
  maxCount?: number | undefined;
  /** Use this nats-server instead of starting a private one. */
  url?: string | undefined;
  /** Modes to measure. Default both. */
  modes?: readonly ('roof' | 'sluice')[] | undefined;
  /** Called with each run's JSON record as soon as it is measured. */
  onRun?: ((run: ExactlyOnceBenchRun) => void) | undefined;
}

/** One measured run (the JSON line). */
export interface ExactlyOnceBenchRun {
  bench: 'exactly-once/roof' | 'exactly-once/sluice';
  date: string;
  commit: string;
  node: string;
  natsServer: string;
  cores: number;
  msgs: number;
  bytes: number;
  ms: number;
  eventsPerSec: number;
  /** Main-thread CPU (user + system) of this process per event, µs. */
  cpuUsPerEvent: number;
  /** nats-server CPU per event, µs (when the bench started the server). */
  serverCpuUsPerEvent: number | null;
  /** LMDB commits per event (0 for the roof). */
  lmdbCommitsPerEvent: number;
  /** Time in V8 garbage collection during the run per event, µs (PerformanceObserver 'gc' entries). */
  gcUsPerEvent: number;
  /** Garbage collections during the run per 1000 events (scavenges and mark-compacts). */
  gcPer1kEvents: number;
  /** ...of which mark-compacts (major GCs) per 1000 events. */
  majorGcPer1kEvents: number;
}

/** Medians over the runs. */
export interface ExactlyOnceBenchSummary {
  bench: 'exactly-once/summary';
  roofEventsPerSec: number;
  sluiceEventsPerSec: number;
  ratio: number;
  roofCpuUsPerEvent: number;
  sluiceCpuUsPerEvent: number;
  lmdbCommitsPerEvent: number;
  roofGcUsPerEvent: number;
  sluiceGcUsPerEvent: number;
  cores: number;
  node: string;
  natsServer: string;
  command: string;
}

const packr = new Packr({ useRecords: false });
// The engine's default `outputs.maxInFlight`, applied to the roof too.
const ENGINE_MAX_IN_FLIGHT = 4096;
const COMMAND = 'node --import tsx bench/exactly-once.bench.ts';

/** Runs the benchmark and returns every run plus the medians. */
export async function runExactlyOnceBench(options: ExactlyOnceBenchOptions = {}): Promise<{ runs: ExactlyOnceBenchRun[]; summary: ExactlyOnceBenchSummary }> {
  const events = options.events ?? 200_000;
  const keyCount = options.keys ?? 1000;
  const runCount = options.runs ?? 3;
  const server = options.url === undefined ? await startNatsServer() : undefined;
  const url = options.url ?? server!.url;
  const nc = await connect({ servers: url, noAsyncTraces: true });
  const jsm = await jetstreamManager(nc);
  const meta = { date: new Date().toISOString(), commit: gitCommit(), node: process.versions.node, natsServer: natsServerVersion(), cores: cpus().length };
  const runs: ExactlyOnceBenchRun[] = [];
  const gc = gcRecorder();
  try {
    await jsm.streams.add({ name: 'EOB_IN', subjects: ['eob.in.>'] });
    const bytes = await preload(nc, events, keyCount);
    for (let r = 0; r < runCount; r++) {
      for (const mode of options.modes ?? (['roof', 'sluice'] as const)) {
        const out = `EOB_OUT_${mode}_${r}`;
        await jsm.streams.add({ name: out, subjects: [`eob.${mode}${r}.>`] });
        const profiler = await startProfile();
        const cpu0 = process.cpuUsage();
        const srv0 = server !== undefined ? processCpuUs(server.pid) : null;
        const t0 = performance.now();
        const commits =
          mode === 'roof'
            ? await roof(nc, `eob.${mode}${r}`, events, `roof${r}`, 2 * (options.maxCount ?? 1024))
            : await sluice(nc, `eob.${mode}${r}`, events, options.maxCount ?? 1024, `bench${r}`);
        const ms = performance.now() - t0;
        const cpu = process.cpuUsage(cpu0);
        const srv1 = server !== undefined ? processCpuUs(server.pid) : null;
        await profiler?.stop(`${mode}-${r}`);
        const gcs = await gc.between(t0, t0 + ms);
        const run: ExactlyOnceBenchRun = {
          bench: `exactly-once/${mode}`,
          ...meta,
          msgs: events,
          bytes,
          ms: round(ms),
          eventsPerSec: Math.round((events / ms) * 1000),
          cpuUsPerEvent: round((cpu.user + cpu.system) / events),
          serverCpuUsPerEvent: srv0 !== null && srv1 !== null ? round((srv1 - srv0) / events) : null,
          lmdbCommitsPerEvent: round(commits / events, 5),
          gcUsPerEvent: round((gcs.ms * 1000) / events),
          gcPer1kEvents: round((gcs.count * 1000) / events, 3),
          majorGcPer1kEvents: round((gcs.major * 1000) / events, 3),
        };
        runs.push(run);
        options.onRun?.(run);
        await jsm.streams.delete(out);
      }
    }
  } finally {
    gc.stop();
    await nc.close();
    await server?.dispose();
  }
  const of = (mode: string, f: (r: ExactlyOnceBenchRun) => number): number => median(runs.filter((r) => r.bench === `exactly-once/${mode}`).map(f));
  const roofRate = of('roof', (r) => r.eventsPerSec);
  const sluiceRate = of('sluice', (r) => r.eventsPerSec);
  return {
    runs,
    summary: {
      bench: 'exactly-once/summary',
      roofEventsPerSec: roofRate,
      sluiceEventsPerSec: sluiceRate,
      ratio: round(sluiceRate / roofRate, 3),
      roofCpuUsPerEvent: of('roof', (r) => r.cpuUsPerEvent),
      sluiceCpuUsPerEvent: of('sluice', (r) => r.cpuUsPerEvent),
      lmdbCommitsPerEvent: of('sluice', (r) => r.lmdbCommitsPerEvent),
      roofGcUsPerEvent: of('roof', (r) => r.gcUsPerEvent),
      sluiceGcUsPerEvent: of('sluice', (r) => r.gcUsPerEvent),
      cores: meta.cores,
      node: meta.node,
      natsServer: meta.natsServer,
      command: `${COMMAND} --events ${events} --runs ${runCount} --keys ${keyCount}`,
    },
  };
}

/** Pre-loads `events` ~100-byte msgpack events `{ k, pad }` into EOB_IN; returns their total bytes. */
async function preload(nc: NatsConnection, events: number, keys: number): Promise<number> {
  const js = jetstream(nc);
  let bytes = 0;
  for (let i = 0; i < events; i += 2000) {
    const acks: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(events, i + 2000); j++) {
      const k = `key-${(j * 7919) % keys}`;
      const data = packr.pack({ k, i: j, pad: 'x'.repeat(100 - 20 - k.length) });
      bytes += data.length;
      acks.push(js.publish(`eob.in.${j % 16}`, data));
    }
    await Promise.all(acks);
  }
  return bytes;
}

/**
 * The roof: raw client, ordered consumer, one output per input with a msg id, acks counted. Like
 * the engine it keeps at most {@link ENGINE_MAX_IN_FLIGHT} outputs unacknowledged (the rest wait
 * in order), so both sides run with the same bounds: 2 × maxCount inputs fetched ahead (the
 * engine's default `maxBufferedInputs`), 4096 outputs in flight.
 */
async function roof(nc: NatsConnection, outPrefix: string, events: number, idPrefix: string, maxBuffered: number): Promise<number> {
  const ackPrefix = createInbox();
  let acked = 0;
  let errors = 0;
  let sent = 0;
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  const waiting: JsMsg[] = [];
  let head = 0;
  const send = (m: JsMsg): void => {
    const { k, i } = packr.unpack(m.data) as { k: string; i: number };
    const h = natsHeaders();
    h.set('Nats-Msg-Id', `${idPrefix}.${m.seq}`);
    nc.publish(`${outPrefix}.${k}`, packr.pack({ k, i }), { reply: `${ackPrefix}.${sent++}`, headers: h });
  };
  const ackSub = nc.subscribe(`${ackPrefix}.*`, {
    callback: (_e, m) => {
      if (m.headers?.code === 503 || m.data[2] === 0x65) errors += 1;
      if (++acked === events) resolve();
      while (head < waiting.length && sent - acked < ENGINE_MAX_IN_FLIGHT) {
        send(waiting[head]!);
        waiting[head++] = undefined as unknown as JsMsg;
      }
    },
  });
  const consumer = await jetstream(nc).consumers.get('EOB_IN', { deliver_policy: DeliverPolicy.All });
  let n = 0;
  let messages: { close(): Promise<void | Error> } | undefined;
  // eslint-disable-next-line prefer-const -- the callback may run before the assignment
  messages = await consumer.consume({
    max_messages: maxBuffered,
    callback: (m) => {
      if (head === waiting.length && sent - acked < ENGINE_MAX_IN_FLIGHT) send(m);
      else waiting.push(m);
      if (++n === events) void messages?.close();
    },
  });
  await done;
  ackSub.unsubscribe();
  if (errors > 0) throw new Error(`roof: ${errors} publish errors`);
  return 0;
}

/** Sluice: the exactly-once engine with a per-key counter; returns its LMDB commits. */
async function sluice(nc: NatsConnection, outPrefix: string, events: number, maxCount: number, topology: string): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-eob-'));
  const store = openStateStore({ dir, topology });
  const process: BatchProcessor = (batch, txn) => {
    for (const m of batch) {
      const { k } = packr.unpack(m.data) as { k: string };
      const n = (txn.get<{ n: number }>('counter', k)?.n ?? 0) + 1;
      txn.put('counter', k, { n });
      txn.emit(m, `${outPrefix}.${k}`, packr.pack({ k, n }));
    }
  };
  try {
    // Not closed here: closing the transport would drain the connection the caller owns.
    const transport = new NatsTransport(nc);
    const engine = await startExactlyOnce({ name: 'counter', transport, store, source: { stream: 'EOB_IN' }, batch: { maxCount, maxWaitMs: 10 }, process });
    await engine.settled(events);
    const commits = engine.stats.commits;
    await engine.stop();
    return commits;
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A V8 CPU profile of one run when SLUICE_EO_CPU_PROF names a directory. */
async function startProfile(): Promise<{ stop(name: string): Promise<void> } | undefined> {
  const dir = process.env.SLUICE_EO_CPU_PROF;
  if (dir === undefined || dir === '') return undefined;
  mkdirSync(dir, { recursive: true });
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return {
    async stop(name) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
      session.disconnect();
    },
  };
}

/** Collects V8's 'gc' performance entries so a run can sum the collections inside its time span. */
function gcRecorder(): { between(fromMs: number, toMs: number): Promise<{ ms: number; count: number; major: number }>; stop(): void } {
  const entries: PerformanceEntry[] = [];
  const observer = new PerformanceObserver((list) => entries.push(...list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  return {
    async between(fromMs, toMs) {
      // Entries are delivered asynchronously: let the last ones of the run arrive.
      await new Promise((resolve) => setTimeout(resolve, 50));
      let ms = 0;
      let count = 0;
      let major = 0;
      for (const e of entries) {
        if (e.startTime < fromMs || e.startTime > toMs) continue;
        ms += e.duration;
        count += 1;
        // NODE_PERFORMANCE_GC_MAJOR = 4
        if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === 4) major += 1;
      }
      return { ms, count, major };
    },
    stop: () => observer.disconnect(),
  };
}

function processCpuUs(pid: number): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks / 100) * 1e6;
  } catch {
    return null;
  }
}

function natsServerVersion(): string {
  try {
    return execFileSync('nats-server', ['--version'], { encoding: 'utf8', env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin` } }).trim();
  } catch {
    return 'unknown';
  }
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function arg(name: string): number | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : undefined;
}

function modesArg(): ('roof' | 'sluice')[] | undefined {
  const i = process.argv.indexOf('--modes');
  if (i < 0) return undefined;
  return (process.argv[i + 1] ?? '').split(',').filter((m): m is 'roof' | 'sluice' => m === 'roof' || m === 'sluice');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { summary } = await runExactlyOnceBench({
    events: arg('events'),
    runs: arg('runs'),
    keys: arg('keys'),
    maxCount: arg('max-count'),
    modes: modesArg(),
    onRun: (run) => console.log(JSON.stringify(run)),
  });
  console.log(JSON.stringify(summary));
  console.log(
    `exactly-once: sluice ${summary.sluiceEventsPerSec} ev/s vs roof ${summary.roofEventsPerSec} ev/s = ${summary.ratio} (cpu ${summary.sluiceCpuUsPerEvent} vs ${summary.roofCpuUsPerEvent} µs/event, gc ${summary.sluiceGcUsPerEvent} vs ${summary.roofGcUsPerEvent} µs/event, ${summary.lmdbCommitsPerEvent} LMDB commits/event, ${summary.cores} cores)`,
  );
}
