import { Observable, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { ensureError } from '../src/errors.js';
import { reportBatch } from '../src/observe/batch-observer.js';
import { markStage } from '../src/observe/lineage.js';
import { operatorCounters } from '../src/observe/operator-stats.js';
import { withSettlement } from '../src/settle/settle-scope.js';
import type { StateStore } from '../src/state/types.js';
import { BatchGrouper, type HeldBatch } from './internal/batch-grouper.js';
import { validateBatchGroups } from './internal/batch-groups.js';
import { validateBatchLimits } from './internal/batch-limits.js';
import { subscribeLinked } from './internal/subscribe-linked.js';

/** Limits for {@link microBatch}; a batch is cut by whichever is reached first. */
export interface MicroBatchConfig<T> {
  /** Most values in one batch; a batch is emitted as soon as it holds this many. Integer >= 1. */
  maxCount: number;
  /** Most time a value waits in a batch, ms, counted from the batch's first value. >= 0. */
  maxWaitMs: number;
  /**
   * Most bytes in one batch (sum of `sizeOf`). A value that would push the batch past it starts
   * a new batch; a single value larger than `maxBytes` travels alone. Default: no byte limit.
   */
  maxBytes?: number | undefined;
  /**
   * Byte size of a value. Default: `raw.length` for envelopes that kept their bytes, else the
   * length of the MessagePack-encoded payload. Called only when `maxBytes` is set.
   */
  sizeOf?: ((value: T) => number) | undefined;
  /** Also cut the batch after this long without a new value, ms. Default: off. */
  idleMs?: number | undefined;
  /** Scheduler for the wait and idle timers. Default `asyncScheduler`. */
  scheduler?: SchedulerLike | undefined;
  /**
   * Record every group in LMDB before it is emitted, so a replay after a crash rebuilds the same
   * groups under the same keys: into a durable sink, exactly-once within the duplicate window.
   * Default: not recorded (at-least-once).
   */
  groups?: MicroBatchGroups | undefined;
}

/** Where and how {@link microBatch} records its groups (see `GroupLog`). */
export interface MicroBatchGroups {
  /**
   * The topology's LMDB state store (`openStateStore`), or a function that returns it, called on
   * subscribe (so `describe` opens nothing). The caller closes it, after the pipeline stopped.
   */
  store: StateStore | (() => StateStore);
  /**
   * Names the log (namespaces `group-log.<name>`, `group-log.<name>.members`) and starts every
   * group key, so every output id: keep it stable across deploys, one subscription per name.
   */
  name: string;
  /**
   * How long a published group stays recorded, ms. Default 120000: set it to the output stream's
   * duplicate window (the guarantee ends there anyway).
   */
  retentionMs?: number | undefined;
  /**
   * After a restart, how long a replayed group waits for its members to come back, ms, before
   * those that came are regrouped under a new key. Default 90000: at least the source's
   * `ackWaitMs` plus its largest redelivery delay (30 s).
   */
  replayWaitMs?: number | undefined;
}

/**
 * Groups values into batches (arrays), cut by whichever comes first: `maxCount` values,
 * `maxBytes` bytes, `maxWaitMs` since the batch's first value, or `idleMs` without input. Order is
 * kept, a value appears in exactly one batch, and an empty batch is never emitted (unlike
 * `bufferTime`).
 *
 * - Emits: when a limit is reached (synchronously for count/bytes, on the scheduler for time),
 *   and the remainder when the source completes. A batch is emitted inside the settlement of its
 *   group (`Settlement.join` of its members), so a durable sink downstream holds the group until
 *   its publish is acknowledged. With `groups`, a batch is emitted once its record is committed
 *   (LMDB's writer thread: a few ms later), and completion waits for the last one.
 * - Holds: the batch being formed only — at most `maxCount` values and, with `maxBytes`, at most
 *   `maxBytes` bytes (plus one oversized value). Each value's input stays unacknowledged until the
 *   batch it joined was emitted AND every downstream effect of it is complete, so over a JetStream
 *   source the source's `maxUnsettled` bounds what is held, batches in flight included. RxJS
 *   pushes, so a slow asynchronous downstream buffers emitted batches: use
 *   {@link microBatchProcess} (one batch at a time) or `settleMap` for asynchronous work.
 * - Fails: source errors are forwarded at once and the batch being formed is dropped, its inputs
 *   failed (so a JetStream source redelivers them); the same on unsubscribe. A throwing `sizeOf`
 *   errors the output. A failed downstream effect (a publish) fails every member of its batch.
 * - Guarantee: at-least-once from a JetStream stream (a replay may regroup, under new ids). With
 *   `groups` the grouping is recorded before it is emitted and replayed as it was, so into a
 *   durable sink the path is exactly-once within the duplicate window, and `describe` says so.
 *   Costs two LMDB commits per batch and one LMDB read per value.
 *
 * ```ts
 * orders$.pipe(microBatch({ maxCount: 500, maxWaitMs: 5_000, maxBytes: 1_000_000 }))
 * ```
 * @throws InvalidConfigError at creation for a bad limit.
 */
export function microBatch<T>(config: MicroBatchConfig<T>): OperatorFunction<T, T[]> {
  const limits = validateBatchLimits('microBatch', config);
  const groups = validateBatchGroups('microBatch', config.groups);
  const counters = operatorCounters(groups !== undefined ? `microBatch ${config.groups!.name}` : 'microBatch');
  // Values waiting in the open batch (their inputs stay unacknowledged until it is emitted).
  counters.unsettled = 0;
  return (source) =>
    markStage(
      new Observable<T[]>((subscriber) => {
        const emit = ({ values, settlement }: HeldBatch<T>): void => {
          counters.out += values.length;
          counters.unsettled = counters.in - counters.out;
          counters.batch(values.length);
          reportBatch('microBatch', config.groups?.name ?? '', values.length);
          try {
            withSettlement(settlement, () => subscriber.next(values));
          } catch (err) {
            settlement?.fail(ensureError(err));
            subscriber.error(err);
          } finally {
            settlement?.release();
          }
        };
        const grouper = new BatchGrouper<T>(limits, groups?.open(limits.scheduler), groups?.replayWaitMs ?? 0, emit, (err) => subscriber.error(err));
        subscriber.add(() => grouper.dispose(new Error('microBatch unsubscribed (or failed) before this value was emitted')));
        subscribeLinked(source, subscriber, {
          next: (value) => {
            counters.in++;
            counters.unsettled = counters.in - counters.out;
            void grouper.next(value);
          },
          error: (err) => subscriber.error(err),
          complete: () => grouper.finish(() => subscriber.complete()),
        });
      }),
      source,
      { name: 'microBatch', effect: 'groups', recorded: groups !== undefined },
    );
}
