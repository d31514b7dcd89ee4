import { asyncScheduler } from 'rxjs';
import { ensureError } from '../errors.js';
import { batchBufferLayout as L, type OpenSegmentInfo, type SegmentInfo } from '../state/lmdb-batch-buffer.js';
import type { StateStore } from '../state/types.js';
import { validateSubject } from '../transport/subject.js';
import { DurableBatchFlusher } from './durable-batch-flusher.js';
import { durableBatchProcessor } from './durable-batch-processor.js';
import type { DurableBatchConfig, DurableBatchHandle, DurableBatchStats } from './durable-batch-types.js';
import { emptyTotals, periodBatchLayout, type PeriodGroupTotals } from './period-batch-processor.js';
import { startExactlyOnce } from './start-exactly-once.js';
import { silentLogger } from '../logger.js';
import type { ExactlyOnceHandle } from './types.js';
import { engineConfigChecks } from './engine-config-checks.js';

/**
 * Starts an exactly-once durable batch — `batchUntil` for nightly-size batches that must survive
 * crashes: values from `source.stream` accumulate in the topology's LMDB store until a message on
 * one of `triggerSubjects` (in the same stream) or `maxItems` closes the batch; then `flush` runs
 * over it chunk by chunk and what it emits is published to JetStream exactly once, with message ids
 * `<topology>.<name>.batch.<batchSeq>.<index>`.
 *
 * - Accumulating is exactly-once w.r.t. the input: values and batch cuts are written in the same
 *   LMDB transaction as the input checkpoint (it runs on `startExactlyOnce`).
 * - Flushing: each chunk's outputs, the deletion of its values and the flush position commit in one
 *   transaction; a crash mid-flush re-publishes committed chunks (dropped as duplicates) and
 *   continues from the first uncommitted one. Every input ends in exactly one batch.
 * - Memory: the engine's input window, one flush chunk and `outputs.maxPending` outputs; a batch
 *   of millions is never one array. Accumulation does not wait for flushes.
 * - Bad values: with `deadLetterSubject`, a value whose flush throws is dead-lettered (exactly once)
 *   and the batch goes on. Without it, a throwing flush stops the batch.
 * - Fails (`done` rejects, nothing more committed): `flush` throws (without `deadLetterSubject`),
 *   the store is full, the transport closes.
 * - Period batches (`periods`): one batch per key and period, each in LMDB on its own; a trigger
 *   is a close naming its period, whose groups flush (in seal order) once `periods.complete` says
 *   so; values for a closed period go to `periods.lateSubject`, exactly once. See `PeriodsConfig`.
 * - A schedule is a trigger too: publish the trigger subject into the stream from a cron job with a
 *   `Nats-Msg-Id` per fire time, so the cut has a stream position and two instances fire once.
 *
 * ```ts
 * const prefs = await startDurableBatch({
 *   name: 'prefs', transport, store, source: { stream: 'PREFS' }, triggerSubjects: ['ops.end-of-day'],
 *   flush: (chunk, emit) => { for (const r of chunk) emit('crm.sync', r.data); },
 * });
 * ```
 * @throws InvalidConfigError for bad options; what `startExactlyOnce` throws.
 */
export async function startDurableBatch(config: DurableBatchConfig): Promise<DurableBatchHandle> {
  const c = validate(config);
  const { name, transport, store } = config;
  const scheduler = config.scheduler ?? asyncScheduler;
  const logger = config.logger ?? silentLogger;
  const ns = L.namespace(name);
  const stats: DurableBatchStats = {
    position: 0,
    open: 0,
    openGroups: 0,
    waitingGroups: 0,
    waitingByPeriod: {},
    late: 0,
    ruleErrors: 0,
    inputs: 0,
    batchesFlushed: 0,
    lastBatchSize: 0,
    maxBatchSize: 0,
    pendingOutputs: 0,
    chunks: 0,
    deadLettered: 0,
    outputs: 0,
    acked: 0,
    duplicates: 0,
    resent: 0,
    publishErrors: 0,
  };
  let failure: Error | undefined;
  let engineStopped: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  let resolveDone!: () => void;
  let rejectDone!: (err: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  done.catch(() => undefined);
  let engine: ExactlyOnceHandle | undefined;

  const flusher = new DurableBatchFlusher({
    name,
    transport,
    store,
    flush: config.flush,
    chunkSize: c.chunkSize,
    deadLetterSubject: config.deadLetterSubject,
    maxInFlight: c.maxInFlight,
    ackTimeoutMs: c.ackTimeoutMs,
    maxPending: c.maxPending,
    duplicateWindowMs: config.outputs?.duplicateWindowMs,
    scheduler,
    logger,
    stats,
    faults: config.faults,
    onFatal: (err) => fail(err),
  });
  queueLegacySegments(store, ns);
  await flusher.start();
  // A fault while re-publishing the flush outbox reaches `fail` through the publisher.
  if (failure !== undefined) throw failure;

  // eslint-disable-next-line prefer-const -- `fail` reads it, and may run before the assignment
  engine = await startExactlyOnce({
    name,
    transport,
    store,
    source: config.source,
    batch: config.batch,
    scheduler,
    logger,
    faults: config.faults,
    // The accumulator reads one key per micro-batch and writes values it never reads back: a cache
    // would only hold the latest values in memory.
    stateCacheEntries: 0,
    process: durableBatchProcessor({
      name,
      triggerSubjects: c.triggerSubjects,
      maxItems: config.maxItems,
      emitEmpty: config.emitEmpty ?? false,
      periods: config.periods,
      deadLetterSubject: config.deadLetterSubject,
      maxPayloadBytes: transport.maxPayloadBytes,
      onRuleError: (err, group) =>
        logger.warn(
          { batch: name, key: group.key, period: group.period, err: ensureError(err).message },
          'period batch: complete() threw; the group keeps waiting',
        ),
      onSealed: () => flusher.poke(),
    }),
  }).catch((err: unknown) => {
    flusher.close();
    throw err;
  });

  function fail(err: unknown): void {
    if (failure !== undefined) return;
    failure = ensureError(err);
    logger.error({ batch: name, err: failure.message, errName: failure.name }, 'durable batch stopped by an error');
    flusher.close();
    // The input side stops too, so a restart in this process never runs beside it.
    engineStopped = engine?.stop({ timeoutMs: 0 }).catch(() => undefined);
    rejectDone(failure);
  }
  engine.done.catch((err: unknown) => fail(err));
  const eng = engine;
  // The flush side failed while the engine was starting: `fail` could not stop it then.
  if (failure !== undefined) {
    await eng.stop({ timeoutMs: 0 }).catch(() => undefined);
    // `fail` sets `failure` from a callback, which TypeScript's narrowing does not see.
    throw failure as Error;
  }

  const openCount = (): OpenSegmentInfo => store.get<OpenSegmentInfo>(ns, L.acc) ?? { open: 1, count: 0 };
  const failed = (): Promise<never> => Promise.reject(failure ?? new Error('unreachable'));

  return {
    name,
    get stats() {
      const e = eng.stats;
      const base = { ...stats, position: e.position, inputs: e.inputs, pendingOutputs: flusher.pendingOutputs };
      if (config.periods === undefined) return { ...base, open: openCount().count };
      const g = store.get<PeriodGroupTotals>(ns, periodBatchLayout.totals) ?? emptyTotals();
      return {
        ...base,
        open: g.values,
        openGroups: g.open,
        waitingGroups: g.waiting,
        waitingByPeriod: { ...g.waitingByPeriod },
        late: g.late,
        ruleErrors: g.ruleErrors,
        deadLettered: stats.deadLettered + g.deadLettered,
      };
    },
    done,
    settled: async (seq) => {
      if (failure !== undefined) return failed();
      await Promise.race([eng.settled(seq), done]);
      await Promise.race([flusher.idleThrough(store.get<number>(ns, L.queueTail) ?? 0), done]);
      if (failure !== undefined) return failed();
    },
    stop: async (options = {}) => {
      if (failure !== undefined) {
        await engineStopped;
        return done;
      }
      stopping ??= (async () => {
        const timeoutMs = options.timeoutMs ?? 30_000;
        await eng.stop({ timeoutMs });
        await flusher.stop(timeoutMs);
        resolveDone();
      })().catch((err: unknown) => fail(err));
      await stopping;
      return done;
    },
  };
}

interface Resolved {
  triggerSubjects: readonly string[];
  chunkSize: number;
  maxInFlight: number;
  ackTimeoutMs: number;
  maxPending: number;
}

function validate(config: DurableBatchConfig): Resolved {
  const { fail, int, name } = engineConfigChecks('startDurableBatch');
  name(config.name);
  if (config.transport === undefined || typeof config.transport.ackPublisher !== 'function')
    fail('transport', 'must be a Transport (NatsTransport or LocalTransport)');
  if (typeof config.flush !== 'function') fail('flush', 'must be a function (chunk, emit, info) => void | Promise<void>');
  if (config.deadLetterSubject !== undefined) {
    try {
      validateSubject(config.deadLetterSubject, { wildcards: false });
    } catch (err) {
      fail('deadLetterSubject', `is not a publish subject: ${(err as Error).message}`);
    }
  }
  const triggerSubjects = config.triggerSubjects ?? [];
  if (!Array.isArray(triggerSubjects)) fail('triggerSubjects', 'must be an array of subjects');
  // Array.isArray narrows a readonly array to any[]: the cast keeps the element type.
  for (const s of triggerSubjects as readonly string[]) {
    try {
      validateSubject(s, { wildcards: true });
    } catch (err) {
      fail('triggerSubjects', `has an invalid subject ${JSON.stringify(s)}: ${(err as Error).message}`);
    }
  }
  if (config.maxItems !== undefined) int('maxItems', config.maxItems, 1, 1, Number.MAX_SAFE_INTEGER);
  if (config.periods !== undefined) validatePeriods(config, triggerSubjects, fail);
  if (triggerSubjects.length === 0 && config.maxItems === undefined) fail('triggerSubjects', 'is empty and maxItems is not set: the batch would never close');
  const chunkSize = int('chunkSize', config.chunkSize, 1000, 1, 1_000_000);
  return {
    triggerSubjects,
    chunkSize,
    maxInFlight: int('outputs.maxInFlight', config.outputs?.maxInFlight, 4096, 1, 1_000_000),
    ackTimeoutMs: int('outputs.ackTimeoutMs', config.outputs?.ackTimeoutMs, 5000, 100, 3_600_000),
    maxPending: int('outputs.maxPending', config.outputs?.maxPending, 4 * chunkSize, 1, 10_000_000),
  };
}

function validatePeriods(config: DurableBatchConfig, triggerSubjects: readonly string[], fail: (field: string, detail: string) => never): void {
  const p = config.periods!;
  if (typeof p !== 'object' || p === null) fail('periods', 'must be an object { keyOf, periodOf, closeOf, lateSubject }');
  for (const f of ['keyOf', 'periodOf', 'closeOf'] as const) if (typeof p[f] !== 'function') fail(`periods.${f}`, `must be a function, got ${typeof p[f]}`);
  for (const f of ['complete', 'tally'] as const)
    if (p[f] !== undefined && typeof p[f] !== 'function') fail(`periods.${f}`, `must be a function when set, got ${typeof p[f]}`);
  try {
    validateSubject(p.lateSubject, { wildcards: false });
  } catch (err) {
    fail('periods.lateSubject', `is not a publish subject: ${(err as Error).message}`);
  }
  if (config.maxItems !== undefined) fail('maxItems', `cannot be used with periods (a group closes with its period), got ${config.maxItems}`);
  if (triggerSubjects.length === 0) fail('triggerSubjects', 'is empty: period batches close on a trigger (close) message');
}

/**
 * State written before the seal queue existed has sealed segments `low..open-1` and no queue:
 * queues them once, in order, so an upgrade flushes them.
 */
function queueLegacySegments(store: StateStore, ns: string): void {
  if (store.get<number>(ns, L.queueTail) !== undefined) return;
  const open = store.get<OpenSegmentInfo>(ns, L.acc)?.open ?? 1;
  const low = store.get<number>(ns, L.low) ?? 1;
  const sealed: number[] = [];
  for (let n = low; n < open; n++) if (store.get<SegmentInfo>(ns, L.segment(n)) !== undefined) sealed.push(n);
  if (sealed.length === 0) return;
  store.transaction((w) => {
    sealed.forEach((n, i) => w.put(ns, L.queued(i), n));
    w.put(ns, L.queueTail, sealed.length);
  });
}
