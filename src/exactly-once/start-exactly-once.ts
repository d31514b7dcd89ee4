import { asyncScheduler } from 'rxjs';
import { InvalidConfigError, ensureError } from '../errors.js';
import { BatchTxn, NOT_WRITTEN } from './batch-txn.js';
import { StateCache } from './state-cache.js';
import { BatchFailedError, EngineStoppedError } from './exactly-once-errors.js';
import { decodeOutbox } from './outbox-codec.js';
import { OutboxPublisher } from './outbox-publisher.js';
import { checkStaleOutbox, type RecoveredBatch } from './stale-outbox.js';
import type { OrderedMessage, OrderedReader } from '../transport/transport.js';
import { silentLogger } from '../logger.js';
import type { ExactlyOnceConfig, ExactlyOnceHandle, ExactlyOnceStats, FaultPoint } from './types.js';
import { engineConfigChecks } from './engine-config-checks.js';

// With no input to carry them, removals of acknowledged outbox records wait this long for a batch.
const IDLE_REMOVAL_MS = 200;

/**
 * Starts the exactly-once engine: reads `source.stream` from the committed checkpoint + 1
 * (`transport.readOrdered`), runs `process` per micro-batch, and commits the batch's state writes,
 * outputs (outbox) and new checkpoint in ONE LMDB transaction before publishing the outputs with
 * deterministic `Nats-Msg-Id`s (`<topology>.<name>.<seq>.<index>`) through
 * `transport.ackPublisher`. All broker I/O goes through the transport. See docs/exactly-once.md.
 *
 * On start it first re-publishes whatever the outbox still holds (the server drops the ids it
 * already stored; entries older than the duplicate window are checked against the output stream
 * first) and then resumes input with a fresh ordered reader at checkpoint + 1. On a transport that
 * is not durable (`LocalTransport`) it runs the same way and warns once that durability is off.
 *
 * - Emits: outputs to JetStream, in commit order; per input, in emit order.
 * - Memory: at most `maxBufferedInputs` inputs fetched ahead, one batch being processed, and
 *   `outputs.maxPending` outputs committed but unacknowledged (input pauses beyond that).
 * - Fails (the `done` promise rejects, nothing more is committed or published) when `process`
 *   throws (`BatchFailedError`), the store is full (`StateFullError`) or the connection closes.
 *   Server-side publish errors and disconnects are retried, never dropped.
 *
 * ```ts
 * const engine = await startExactlyOnce({
 *   name: 'stock', transport, store, source: { stream: 'ORDERS' },
 *   process: (batch, txn) => { for (const m of batch) txn.emit(m, 'stock.changed', m.data); },
 * });
 * await engine.stop();
 * ```
 *
 * @throws InvalidConfigError for bad options or a checkpoint that belongs to another stream;
 * TransportError when the source stream does not exist.
 */
export async function startExactlyOnce(config: ExactlyOnceConfig): Promise<ExactlyOnceHandle> {
  const c = validate(config);
  const { name, transport, store, process } = config;
  const { stream, filterSubject } = config.source;
  const scheduler = config.scheduler ?? asyncScheduler;
  const log = config.logger ?? silentLogger;
  const msgIdPrefix = `${store.topology}.${name}.`;
  const stats: ExactlyOnceStats = {
    position: 0,
    batches: 0,
    inputs: 0,
    outputs: 0,
    acked: 0,
    duplicates: 0,
    resent: 0,
    publishErrors: 0,
    inFlight: 0,
    pendingOutboxBatches: 0,
    pendingOutputs: 0,
    lastBatchSize: 0,
    maxBatchSize: 0,
    commits: 0,
    consumerResets: 0,
    staleOutputs: 0,
    staleOutputsFound: 0,
    staleOutputsUnverified: 0,
  };

  const cp = store.checkpoint(name);
  if (cp !== undefined && cp.stream !== stream) {
    throw new InvalidConfigError(
      'startExactlyOnce',
      'source.stream',
      `is '${stream}' but engine '${name}' has a checkpoint in stream '${cp.stream}' (seq ${cp.seq}); use another name to start over`,
    );
  }
  stats.position = cp?.seq ?? 0;
  if (!transport.durable) {
    log.warn(
      { engine: name, transport: transport.kind },
      'durability off: in-process transport (streams, message ids and positions live in this process only; exactly-once holds within this run)',
    );
  }
  const info = await transport.streamState(stream);
  if (info.firstSeq > stats.position + 1 && info.messages > 0) {
    log.warn(
      { engine: name, stream, checkpoint: stats.position, firstSeq: info.firstSeq },
      "exactly-once input: messages after the checkpoint were removed by the stream's retention before being processed",
    );
  }
  if (info.lastSeq < stats.position) {
    // A stream recreated, or one that lost its tail (nats-server fsyncs every 60 s by default):
    // its sequences up to the checkpoint are new messages this engine will never read.
    log.error(
      { engine: name, stream, checkpoint: stats.position, lastSeq: info.lastSeq },
      'exactly-once input: the stream ends before the checkpoint (recreated or lost data); its messages up to the checkpoint are skipped',
    );
  }

  let failed: Error | undefined;
  let stopping = false;
  let stopped = false;
  let resolveDone!: () => void;
  let rejectDone!: (err: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  done.catch(() => undefined);
  const pending = new Set<number>();
  const removable: number[] = [];
  const waiters: { seq: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  let wake: (() => void) | undefined;
  let wantInputs = 1;
  const wakeLoop = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const checkSettled = (): void => {
    if (waiters.length === 0) return;
    let minPending = Infinity;
    for (const s of pending) minPending = Math.min(minPending, s);
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i]!;
      if (stats.position >= w.seq && minPending > w.seq) {
        waiters.splice(i, 1);
        w.resolve();
      }
    }
  };
  const fault = (point: FaultPoint, seq: number): void => config.faults?.({ point, seq });

  const publisher = new OutboxPublisher({
    transport,
    msgIdPrefix,
    scheduler,
    counters: stats,
    faults: config.faults,
    logger: log,
    maxInFlight: c.maxInFlight,
    ackTimeoutMs: c.ackTimeoutMs,
    onBatchAcked: (seq) => {
      pending.delete(seq);
      removable.push(seq);
      checkSettled();
      wakeLoop();
    },
    onFatal: (err) => fail(err),
  });
  let reader: OrderedReader | undefined;
  // At most one commit in flight: batch k+1 is processed while LMDB's writer thread commits
  // batch k, reading k's writes through this overlay until they are visible in the store.
  let committing: { txn: BatchTxn; done: Promise<void> } | undefined;

  function fail(err: unknown): void {
    if (failed !== undefined || stopped) return;
    failed = ensureError(err);
    publisher.close();
    void reader?.close();
    log.error({ engine: name, err: failed.message, errName: failed.name }, 'exactly-once engine stopped by an error');
    for (const w of waiters.splice(0)) w.reject(failed);
    const error = failed;
    // A commit already handed to LMDB's writer thread completes; settle `done` after it.
    void (committing?.done ?? Promise.resolve()).finally(() => rejectDone(error));
    wakeLoop();
  }

  // A closed transport never comes back (reconnects happen before close): nothing can progress.
  void transport
    .closed()
    .then((err) => fail(err ?? new EngineStoppedError(name, `lost its transport (${transport.kind}): it was closed before the engine stopped`)));

  // Recovery: re-publish the outbox before reading any new input.
  const recovered: RecoveredBatch[] = [...store.outbox(name)].map((r) => ({ seq: r.seq, createdAt: r.createdAt, entries: decodeOutbox(r.blob) }));
  if (recovered.length > 0) {
    const check = await checkStaleOutbox({
      transport,
      batches: recovered,
      msgIdPrefix,
      nowMs: scheduler.now(),
      duplicateWindowMs: c.duplicateWindowMs,
      logger: log,
    });
    stats.staleOutputs = check.stale;
    stats.staleOutputsFound = check.found.size;
    stats.staleOutputsUnverified = check.unverified;
    const total = recovered.reduce((n, b) => n + b.entries.length, 0);
    log.info({ engine: name, batches: recovered.length, outputs: total, skipped: check.found.size }, 'exactly-once recovery: re-publishing the outbox');
    for (const b of recovered) {
      pending.add(b.seq);
      const entries = check.found.size === 0 ? b.entries : b.entries.filter((e) => !check.found.has(`${msgIdPrefix}${e.seq}.${e.index}`));
      publisher.enqueue({ seq: b.seq, entries });
    }
    // A fault while re-publishing (the publisher reports it through `fail`) ends the start here.
    if (failed !== undefined) throw failed;
  }

  try {
    reader = await transport.readOrdered({
      stream,
      filterSubject,
      startSeq: stats.position + 1,
      maxBuffered: c.maxBufferedInputs,
      name: `sluice_${name}`,
      onAvailable: () => {
        if (reader !== undefined && reader.size >= wantInputs) wakeLoop();
      },
      onReset: ({ reason, nextSeq }) => {
        stats.consumerResets += 1;
        log.warn({ engine: name, stream, nextSeq, reason }, 'exactly-once input consumer recreated');
      },
      onRetry: ({ error, attempt, retryInMs }) => {
        log.warn({ engine: name, stream, attempt, delayMs: retryInMs, err: error.message }, 'exactly-once input consumer cannot be created yet; retrying');
      },
    });
  } catch (err) {
    fail(err);
    throw err;
  }
  const input = reader;
  // Failed while the reader was starting: `fail` could not close it then.
  if (failed !== undefined) {
    await input.close();
    throw failed;
  }

  const waitFor = async (cond: () => boolean, timeoutMs?: number): Promise<void> => {
    let timedOut = false;
    const timer =
      timeoutMs === undefined
        ? undefined
        : scheduler.schedule(() => {
            timedOut = true;
            wakeLoop();
          }, timeoutMs);
    while (!cond() && !timedOut && failed === undefined) await new Promise<void>((resolve) => (wake = resolve));
    timer?.unsubscribe();
  };

  const nextBatch = async (): Promise<OrderedMessage[]> => {
    wantInputs = 1;
    if (input.size === 0) {
      await waitFor(() => input.size > 0 || stopping || removable.length > 0);
      // Acknowledged outbox records ride along with the next batch's commit, or go after a pause.
      if (input.size === 0 && !stopping && removable.length > 0) await waitFor(() => input.size > 0 || stopping, IDLE_REMOVAL_MS);
    }
    if (stopping || failed !== undefined || input.size === 0) return [];
    if (input.size < c.maxCount && c.maxWaitMs > 0) {
      wantInputs = c.maxCount;
      await waitFor(() => input.size >= c.maxCount || stopping, c.maxWaitMs);
      wantInputs = 1;
    }
    return input.take(c.maxCount);
  };

  // Committed values recently read or written, so hot keys skip LMDB's read and decode. Values are
  // shared objects: a processor must `put` what it changes (as with LMDB, where `put` is the write).
  const cache = new StateCache(c.stateCacheEntries);
  const base = {
    get: <V>(namespace: string, key: string): V | undefined => {
      if (committing !== undefined) {
        const v = committing.txn.own(namespace, key);
        if (v !== NOT_WRITTEN) return v as V;
      }
      const hit = cache.get(namespace, key);
      if (hit !== NOT_WRITTEN) return hit as V;
      const v = store.get<V>(namespace, key);
      cache.set(namespace, key, v);
      return v;
    },
  };

  const commitRemovals = async (): Promise<void> => {
    if (committing !== undefined) await committing.done;
    const remove = removable.splice(0);
    if (remove.length === 0 || failed !== undefined) return;
    fault('before-outbox-removal', remove[remove.length - 1]!);
    store.transaction((w) => {
      for (const s of remove) w.deleteOutbox(name, s);
    });
    stats.commits += 1;
  };

  const committed = (txn: BatchTxn, blob: Uint8Array | undefined, batchSize: number, last: number): void => {
    txn.forEachWrite((namespace, key, value) => cache.set(namespace, key, value));
    stats.commits += 1;
    stats.batches += 1;
    stats.inputs += batchSize;
    stats.lastBatchSize = batchSize;
    if (batchSize > stats.maxBatchSize) stats.maxBatchSize = batchSize;
    stats.outputs += txn.outputCount;
    stats.position = last;
    for (const err of txn.runAfterCommit()) log.warn({ engine: name, seq: last, err: err.message }, 'exactly-once after-commit callback failed');
    fault('after-commit', last);
    if (blob !== undefined) {
      pending.add(last);
      publisher.enqueue({ seq: last, blob });
    }
    checkSettled();
  };

  const runBatch = async (batch: OrderedMessage[]): Promise<void> => {
    const first = batch[0]!.seq;
    const last = batch[batch.length - 1]!.seq;
    const txn = new BatchTxn(base, stream, first, last, transport.maxPayloadBytes);
    try {
      await process(batch, txn);
    } catch (err) {
      throw new BatchFailedError(name, stream, first, last, { cause: err });
    } finally {
      txn.seal();
    }
    if (failed !== undefined) return;
    fault('before-commit', last);
    const blob = txn.outboxBlob();
    if (committing !== undefined) await committing.done;
    if (failed !== undefined) return;
    const remove = removable.splice(0);
    if (remove.length > 0) fault('before-outbox-removal', remove[remove.length - 1]!);
    const createdAt = scheduler.now();
    const done = store
      .transactionAsync((w) => {
        txn.writeTo(w);
        if (blob !== undefined) w.putOutbox(name, { seq: last, createdAt, blob });
        for (const s of remove) w.deleteOutbox(name, s);
        w.putCheckpoint(name, { stream, seq: last, filterSubject, updatedAt: createdAt });
      })
      .then(() => {
        if (failed === undefined) committed(txn, blob, batch.length, last);
      })
      .catch((err: unknown) => fail(err))
      .finally(() => {
        if (committing?.txn === txn) committing = undefined;
      });
    committing = { txn, done };
    await publisher.whenPendingAtMost(c.maxPending);
  };

  const loop = (async () => {
    try {
      while (!stopping && failed === undefined) {
        const batch = await nextBatch();
        if (failed !== undefined) return;
        if (batch.length > 0) await runBatch(batch);
        else if (!stopping) await commitRemovals();
      }
      if (committing !== undefined) await committing.done;
    } catch (err) {
      fail(err);
    }
  })();

  return {
    name,
    get position() {
      return stats.position;
    },
    get stats() {
      return { ...stats, inFlight: publisher.inFlightCount, pendingOutboxBatches: pending.size, pendingOutputs: publisher.pending };
    },
    done,
    settled: (seq) => {
      if (failed !== undefined) return Promise.reject(failed);
      return new Promise<void>((resolve, reject) => {
        waiters.push({ seq, resolve, reject });
        checkSettled();
      });
    },
    stop: async (options = {}) => {
      if (failed !== undefined) return done;
      if (stopping) return done;
      stopping = true;
      wakeLoop();
      await loop;
      await input.close();
      if (failed !== undefined) return done;
      const timeoutMs = options.timeoutMs ?? 30_000;
      let timer: { unsubscribe(): void } | undefined;
      const timedOut = new Promise<boolean>((resolve) => (timer = scheduler.schedule(() => resolve(true), timeoutMs)));
      const drained = await Promise.race([publisher.whenPendingAtMost(0).then(() => false), timedOut]);
      timer?.unsubscribe();
      if (drained)
        log.warn(
          { engine: name, pending: publisher.pending, timeoutMs },
          'exactly-once stop: outputs still unacknowledged; they stay in the outbox and are re-published on next start',
        );
      try {
        await commitRemovals();
      } catch (err) {
        fail(err);
        return done;
      }
      publisher.close();
      for (const w of waiters.splice(0)) w.reject(new EngineStoppedError(name, `stopped before position ${w.seq} was settled`));
      stopped = true;
      resolveDone();
      return done;
    },
  };
}

interface Resolved {
  maxCount: number;
  maxWaitMs: number;
  maxInFlight: number;
  ackTimeoutMs: number;
  maxPending: number;
  maxBufferedInputs: number;
  duplicateWindowMs: number | undefined;
  stateCacheEntries: number;
}

function validate(config: ExactlyOnceConfig): Resolved {
  const { fail, int, name } = engineConfigChecks('startExactlyOnce');
  name(config.name);
  if (config.transport === undefined || typeof config.transport.readOrdered !== 'function')
    fail('transport', 'must be a Transport (NatsTransport or LocalTransport)');
  if (config.store === undefined || typeof config.store.transaction !== 'function') fail('store', 'must be a StateStore (openStateStore)');
  if (typeof config.source?.stream !== 'string' || config.source.stream.length === 0)
    fail('source.stream', `must be a stream name, got ${JSON.stringify(config.source?.stream)}`);
  if (typeof config.process !== 'function') fail('process', 'must be a function (batch, txn) => void | Promise<void>');
  const maxCount = int('batch.maxCount', config.batch?.maxCount, 1000, 1, 100_000);
  const maxWaitMs = int('batch.maxWaitMs', config.batch?.maxWaitMs, 10, 0, 3_600_000);
  const maxInFlight = int('outputs.maxInFlight', config.outputs?.maxInFlight, 4096, 1, 1_000_000);
  const ackTimeoutMs = int('outputs.ackTimeoutMs', config.outputs?.ackTimeoutMs, 5000, 100, 3_600_000);
  const maxPending = int('outputs.maxPending', config.outputs?.maxPending, 4 * maxCount, 1, 10_000_000);
  const maxBufferedInputs = int('maxBufferedInputs', config.maxBufferedInputs, 2 * maxCount, 1, 10_000_000);
  const w = config.outputs?.duplicateWindowMs;
  if (w !== undefined && (!Number.isFinite(w) || w < 0)) fail('outputs.duplicateWindowMs', `must be a duration >= 0 in ms, got ${w}`);
  const stateCacheEntries = int('stateCacheEntries', config.stateCacheEntries, 10_000, 0, 100_000_000);
  return { maxCount, maxWaitMs, maxInFlight, ackTimeoutMs, maxPending, maxBufferedInputs, duplicateWindowMs: w, stateCacheEntries };
}
