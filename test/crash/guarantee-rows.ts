import { join } from 'node:path';
import { readStagedFiles } from './staged-files.js';
import type { CrashOutput } from './crash-tally.js';
import type { CrashRow } from './topology-crash.js';
import { flushedValue, periodOf } from './topologies/period-batch.js';

/*
 * The rows of the guarantee table that hold on main, as crash cases (run by
 * topology-crash.test.ts; the backlog test reuses ROUTE_ROW). A further row is one more
 * `CrashRow` in ROWS.
 */

/** The model of topologies/route-durable.ts: where input `n` goes (nowhere when filtered). */
export function routeTargets(n: number): string[] {
  if (n % 5 === 0) return [];
  const to = [...(n % 2 === 0 ? ['even'] : []), ...(n % 3 === 0 ? ['three'] : [])];
  return to.length > 0 ? to : ['odd'];
}

const one = (): readonly string[] => ['out'];

/** a. JetStream stream → filter/map/route → durable sink: exactly-once. */
export const ROUTE_ROW: CrashRow = {
  title: 'a. stream → filter/map/route → durable sink',
  fixture: 'route-durable.ts',
  guarantee: 'exactly-once',
  inputs: 3000,
  kills: 3,
  expect: routeTargets,
  payloadOk: (data, n) => (data as { double?: unknown }).double === 2 * n,
};

/** l. Route, an actor and a durable batch in one topology: exactly-once for each path. */
export const MIXED_ROW: CrashRow = {
  title: 'l. stream → route + actor + durable batch in one topology',
  fixture: 'mixed-route-actor-batch.ts',
  guarantee: 'exactly-once',
  msgIds: 'group',
  inputs: 1500,
  kills: 3,
  // The actor and the batch finish from their own streams: done when every output is there.
  complete: 'outputs',
  expect: (n) => [n % 3 === 1 ? 'actor' : n % 3 === 2 ? 'batch' : n % 2 === 0 ? 'even' : 'odd'],
};

/** The rows that SIGKILL only the processor and need nothing beyond the guarantee's counts. */
export const ROWS: readonly CrashRow[] = [
  ROUTE_ROW,
  {
    title: 'b. stream → settleMap (async, random delays) → durable sink',
    fixture: 'settle-map-durable.ts',
    guarantee: 'exactly-once',
    inputs: 2000,
    kills: 3,
    payloadOk: (data, n) => (data as { square?: unknown }).square === n * n,
  },
  {
    title: 'c. stream → core sink, a subscriber connected throughout',
    fixture: 'stream-core-sink.ts',
    guarantee: 'at-least-once',
    inputs: 3000,
    kills: 3,
    output: 'subscriber',
  },
  {
    title: 'f. stream → microBatch → durable sink',
    fixture: 'micro-batch-durable.ts',
    guarantee: 'at-least-once',
    inputs: 2000,
    kills: 3,
    expect: one,
  },
  {
    title: 'g. stream → microBatch (recorded groups) → durable sink',
    fixture: 'micro-batch-durable.ts',
    guarantee: 'exactly-once',
    msgIds: 'group',
    inputs: 2000,
    kills: 3,
    params: { recorded: true },
  },
  {
    // At-least-once: a value stored in LMDB but not yet acknowledged at the kill is stored again.
    title: 'h. stream → batchUntil(onCount) with the LMDB buffer → durable sink',
    fixture: 'batch-until-durable.ts',
    guarantee: 'at-least-once',
    msgIds: 'group',
    inputs: 2000,
    kills: 3,
    params: { trigger: 'count' },
  },
  {
    title: 'i. stream → batchUntil(onSchedule, every second) with the LMDB buffer → durable sink',
    fixture: 'batch-until-durable.ts',
    guarantee: 'at-least-once',
    msgIds: 'group',
    inputs: 2000,
    kills: 3,
    params: { trigger: 'schedule' },
  },
  {
    // The file buffer: each turn's values are one write + fdatasync; a SIGKILL mid-write leaves a torn commit that recovery cuts.
    title: 'h2. stream → batchUntil(onCount) with the file buffer → durable sink',
    fixture: 'batch-until-durable.ts',
    guarantee: 'at-least-once',
    msgIds: 'group',
    inputs: 2000,
    kills: 3,
    params: { trigger: 'count', buffer: 'file' },
  },
  {
    title: 'j. poll → settleMap → durable sink',
    fixture: 'poll-settle-map.ts',
    guarantee: 'at-least-once',
    source: 'none',
    progress: 'published',
    inputs: 2000,
    kills: 3,
    payloadOk: (data, n) => (data as { square?: unknown }).square === n * n,
  },
  {
    // The same cursor reads the same rows, so output ids derive from it and a re-read is dropped as a duplicate.
    title: 'j2. poll (deterministic) → settleMap → durable sink',
    fixture: 'poll-settle-map.ts',
    guarantee: 'exactly-once',
    msgIds: 'group',
    source: 'none',
    progress: 'published',
    inputs: 2000,
    kills: 3,
    params: { deterministic: true },
    payloadOk: (data, n) => (data as { square?: unknown }).square === n * n,
  },
  {
    // A named fileDrop keys each file by name, size and mtime: read again after a crash, its outputs get the same ids.
    title: "t. fileDrop (named) → settleMap (a file's orders) → durable sink",
    fixture: 'file-drop-durable.ts',
    guarantee: 'exactly-once',
    msgIds: 'group',
    source: 'none',
    progress: 'published',
    inputs: 2000,
    kills: 3,
  },
  {
    title: 'k. stream → microBatchProcess writing files (rename into place)',
    fixture: 'micro-batch-files.ts',
    guarantee: 'at-least-once',
    output: 'files',
    inputs: 2000,
    kills: 3,
  },
  MIXED_ROW,
  {
    // Every input in exactly one published file; every file whole and matching its manifest; no temporary file left.
    title: 'm. stream → microBatch (recorded groups) → fileSink (staged NDJSON files + manifests)',
    fixture: 'micro-batch-file-sink.ts',
    guarantee: 'exactly-once',
    msgIds: 'group',
    output: 'files',
    readFiles: (dir) => readStagedFiles(join(dir, 'staged')),
    inputs: 2000,
    kills: 3,
    payloadOk: (data, n) => (data as { n?: unknown }).n === n,
  },
  {
    // Every value of a closed period in exactly one flushed group, and nothing late (the closes trail their periods by more than a redelivery can move).
    title: 'o. stream → period batch (per key and period, closes in the same stream) → flush outputs',
    fixture: 'period-batch.ts',
    guarantee: 'exactly-once',
    msgIds: 'group',
    inputs: 2250,
    kills: 3,
    complete: 'outputs',
    expect: (n) => (flushedValue(n, 2250) ? ['batch'] : []),
    payloadOk: (data, n) => {
      const d = data as { n?: unknown; key?: unknown; period?: unknown };
      return d.n === n && d.key === `k${n % 7}` && d.period === `p${periodOf(n)}`;
    },
  },
  {
    // In-memory windows: a crash drops the open ones; their inputs are unacknowledged and come again.
    title: 'r. stream → window (tumbling per key, in memory) → durable sink',
    fixture: 'window-durable.ts',
    guarantee: 'at-least-once',
    inputs: 2000,
    kills: 3,
    payloadOk: (data, n) => (data as { n?: unknown }).n === n,
  },
  {
    title: 's. stream → microBatchProcess (recorded groups) → durable sink',
    fixture: 'micro-batch-process-durable.ts',
    guarantee: 'exactly-once',
    msgIds: 'group',
    inputs: 2000,
    kills: 3,
  },
  {
    // Nothing acknowledged: every restart reads again from startSeq, so 0 lost and (nearly) everything duplicated.
    title: 'q. ordered stream read (ordered: true) → map → durable sink',
    fixture: 'ordered-durable.ts',
    guarantee: 'at-least-once',
    inputs: 2000,
    kills: 3,
    // No durable consumer to watch: done when every input's output is there.
    complete: 'outputs',
    payloadOk: (data, n) => (data as { double?: unknown }).double === 2 * n,
  },
];

/**
 * Per-key order problems of the actor-order fixture: for each key (`n % 10`), the outputs in
 * output-stream order must carry increasing `n`, each with `prev` = the key's previous `n`.
 */
export function perKeyOrderProblems(outputs: readonly CrashOutput[]): string[] {
  const lastByKey = new Map<number, number>();
  const problems: string[] = [];
  for (const o of outputs) {
    const { n, prev } = o.data as { n: number; prev: number };
    const key = n % 10;
    const last = lastByKey.get(key) ?? 0;
    if (n <= last || prev !== last) problems.push(`order: key ${key} applied n=${n} (prev ${prev}) after n=${last}`);
    lastByKey.set(key, Math.max(last, n));
  }
  return problems;
}

/** n. Stream → map → t.actor (hand-over): exactly-once, and per-key order across crashes. */
export const ACTOR_ORDER_ROW: CrashRow = {
  title: 'p. stream → map → t.actor (hand-over): per-key order across crashes',
  fixture: 'actor-order.ts',
  guarantee: 'exactly-once',
  msgIds: 'group',
  inputs: 2000,
  kills: 3,
  complete: 'outputs',
  checkOutputs: perKeyOrderProblems,
};

/** d. Core subject → core sink: at-most-once (inputs published during the runs, 500/s for 10 s). */
export const CORE_SOURCE_ROW: CrashRow = {
  title: 'd. core subject → core sink',
  fixture: 'core-source.ts',
  guarantee: 'at-most-once',
  source: 'core',
  output: 'subscriber',
  inputs: 5000,
  ratePerSec: 500,
  kills: 2,
};

/**
 * The broker's crash: nats-server SIGKILLed (twice) and restarted instead of the processor, which
 * reconnects and finishes. e: row a (streams and a durable sink); e2: row l (the hand-over to an
 * actor and a durable batch, their engines' streams, outboxes and state-query responders).
 */
export const BROKER_CRASH_ROWS: readonly CrashRow[] = [
  { ...ROUTE_ROW, title: 'e. row a, nats-server SIGKILLed mid-stream', kills: 0, serverKills: 2 },
  { ...MIXED_ROW, title: 'e2. row l (route + actor + durable batch), nats-server SIGKILLed mid-stream', kills: 0, serverKills: 2 },
];
