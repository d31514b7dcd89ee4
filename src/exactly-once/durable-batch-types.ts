import type { SchedulerLike } from 'rxjs';
import type { StateStore } from '../state/types.js';
import type { Transport } from '../transport/transport.js';
import type { Logger } from '../logger.js';
import type { FaultContext } from './types.js';

/**
 * An input message as a durable batch keeps it in LMDB: the original bytes, subject, headers and
 * stream position, exactly as consumed.
 */
export interface BatchRecord {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  readonly stream: string;
  /** Stream sequence of the input. */
  readonly seq: number;
  /** Stream timestamp, epoch ms. */
  readonly timestampMs: number;
}

/** Queues one output of a flush; published after the chunk is committed. */
export type BatchEmit = (subject: string, data: Uint8Array, headers?: Readonly<Record<string, string>>) => void;

/** Where a flushed chunk sits in its batch. */
export interface FlushChunkInfo {
  /** `<name>:<batchSeq>`, as `batchUntil` names batches. */
  readonly batchId: string;
  /** 1 for the first batch of this name, then 2, 3, ... — the same after restarts. */
  readonly batchSeq: number;
  /** Why the batch closed: `'trigger'` (a trigger subject) or `'max-items'`. */
  readonly reason: string;
  /** Values in the whole batch. */
  readonly count: number;
  /** Index of the chunk's first value in the batch. */
  readonly from: number;
  /** This is the batch's last chunk. */
  readonly last: boolean;
  /** Stream sequences of the batch's first and last value. */
  readonly firstSeq?: number | undefined;
  readonly lastSeq?: number | undefined;
  /** 0 for the batch's first chunk, then 1, 2, ... — the same after restarts. */
  readonly chunk: number;
  /** Period batches: the group's key (e.g. the employee). Absent for a single batch. */
  readonly key?: string | undefined;
  /** Period batches: the group's period (e.g. `2026-11`). Absent for a single batch. */
  readonly period?: string | undefined;
  /** Period batches with `periods.tally`: the group's tally over all its values (the same on every chunk). */
  readonly tally?: unknown;
}

/**
 * Processes one chunk of a closed batch; may be async. Outputs go through `emit`. Must be
 * deterministic only in the weak sense that whatever it emits for a chunk that was not yet
 * committed may differ on a re-run: nothing is published before the chunk commits.
 */
export type BatchFlush = (chunk: readonly BatchRecord[], emit: BatchEmit, info: FlushChunkInfo) => void | Promise<void>;

/** Options of `startDurableBatch`. */
export interface DurableBatchConfig {
  /**
   * Stable name: the exactly-once engine's name (checkpoint), the buffer namespace `batch.<name>`
   * and the second segment of output ids `<topology>.<name>.batch.<batchSeq>.<index>`.
   * Letters, digits, `-` and `_` only.
   */
  name: string;
  /** Where input is read and outputs are published (see `ExactlyOnceConfig.transport`). The caller owns it. */
  transport: Transport;
  store: StateStore;
  source: {
    /** Stream holding the values AND the trigger messages. */
    stream: string;
    /** One subject filter; it must let the trigger subjects through. Default: all. */
    filterSubject?: string | undefined;
  };
  /**
   * Subjects (wildcards allowed) whose messages close the open batch, e.g. `ops.end-of-day`. A
   * trigger message is not part of any batch. Because it is read from the same stream, the cut is
   * at the same position on every replay. At least one of `triggerSubjects` and `maxItems`.
   */
  triggerSubjects?: readonly string[] | undefined;
  /**
   * Period batches: one batch per key and period instead of one open batch (see {@link PeriodsConfig}).
   * Then trigger messages are closes (each names the period it closes) and `maxItems` is not allowed.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any period config: its callbacks' parameters are contravariant
  periods?: PeriodsConfig<any, any, any> | undefined;
  /** Close the open batch (reason `'max-items'`) when it holds this many values. Default: no limit. */
  maxItems?: number | undefined;
  /** On a trigger with an empty open batch, close an empty batch (flush is called once with no values). Default false. */
  emitEmpty?: boolean | undefined;
  /** Values per flush call (and per LMDB commit of a flush). Default 1000. */
  chunkSize?: number | undefined;
  flush: BatchFlush;
  /**
   * Subject for values whose flush fails: when a chunk's `flush` throws, the chunk is flushed again
   * value by value and each value that still throws is published here as a `DeadLetterRecord`
   * (original bytes, subject, stream, sequence, error; `Sluice-Dlq-*` headers) through the same
   * outbox, exactly once. It must be captured by a stream. Default: none — a throwing
   * flush stops the batch (`done` rejects) and a restart runs the chunk again.
   */
  deadLetterSubject?: string | undefined;
  /** Input micro-batching of the accumulating engine (see `startExactlyOnce`). */
  batch?: { maxCount?: number | undefined; maxWaitMs?: number | undefined } | undefined;
  outputs?:
    | {
        /** Outputs sent and not yet acknowledged, at most. Default 4096. */
        maxInFlight?: number | undefined;
        /** Re-send (same id) when an ack has not come after this, ms. Default 5000. */
        ackTimeoutMs?: number | undefined;
        /** Flush outputs committed but unacknowledged before the next chunk waits. Default 4 × chunkSize. */
        maxPending?: number | undefined;
        /** The output streams' duplicate window, ms (see `startExactlyOnce`). Default: read from the streams. */
        duplicateWindowMs?: number | undefined;
      }
    | undefined;
  logger?: Logger | undefined;
  scheduler?: SchedulerLike | undefined;
  /** @internal TESTING ONLY: fault hook of the accumulating engine and of the flush publisher (see `ExactlyOnceConfig.faults`). */
  faults?: ((ctx: FaultContext) => void) | undefined;
}

/**
 * A group of a period batch as the completeness rule sees it: its key and period, how many values
 * it holds, and its tally. Values themselves stay in LMDB.
 */
export interface PeriodGroup<S = unknown> {
  readonly key: string;
  readonly period: string;
  readonly count: number;
  /** `periods.tally` folded over the group's values (undefined without a tally). */
  readonly tally: S | undefined;
}

/**
 * Period batches: each value goes to the group `{ key: keyOf(value), period: periodOf(value) }`,
 * which accumulates in LMDB on its own; a close message (a trigger, read from the same stream so
 * the cut is the same on every replay) names the period it closes, and each group of that period
 * is sealed and flushed once `complete` says so. Values are decoded once, by their
 * `Content-Type` (msgpack when absent). `V`: the value type, `C`: the close message, `S`: the tally.
 *
 * A value whose period is closed and that has no waiting group is late: it is published to
 * `lateSubject` as a {@link LateRecord}, exactly once. A user function that throws dead-letters the
 * value or the close it was given (to `deadLetterSubject`; without one, the batch stops).
 */
export interface PeriodsConfig<V = unknown, C = unknown, S = unknown> {
  /** The group key of a value, e.g. the employee id. A non-empty string. */
  keyOf: (value: V, record: BatchRecord) => string;
  /** The period of a value, e.g. `'2026-11'`. A non-empty string; periods are opaque labels. */
  periodOf: (value: V, record: BatchRecord) => string;
  /** The period a close message closes. A close of a period already closed re-checks its waiting groups with the new close. */
  closeOf: (close: C, record: BatchRecord) => string;
  /**
   * Whether a group of a closed period may flush now. Checked at the close, then each time a value
   * joins a waiting group (and at a later close of the same period). Default: always — everything
   * before the close in the stream is in, which stream order gives. A throw counts as "not yet"
   * (logged, counted in `ruleErrors`). E.g. `(g, close) => g.count >= (close.expected[g.key] ?? 0)`.
   */
  complete?: ((group: PeriodGroup<S>, close: C) => boolean) | undefined;
  /**
   * Folds each value into the group's small summary, kept beside the group in LMDB and given to
   * `complete` and to every flushed chunk (`info.tally`) — e.g. the pay so far, or whether a
   * 'final' entry came. Must be deterministic. Default: none.
   */
  tally?: ((previous: S | undefined, value: V, record: BatchRecord) => S) | undefined;
  /** Where late values go (a publish subject captured by a stream). */
  lateSubject: string;
}

/**
 * A late value as published (msgpack) on `periods.lateSubject`, with `Sluice-Late-Period`,
 * `Sluice-Late-Stream` and `Sluice-Late-Seq` headers. `payload` is the original bytes, empty with
 * `payloadTruncated` when the record would not fit the server's max_payload (then read it from
 * `stream` at `seq`).
 */
export interface LateRecord {
  /** The batch's name. */
  readonly batch: string;
  /** The value's subject in the batch's stream, and its original subject (`Sluice-Origin-Subject`) when it was handed over. */
  readonly subject: string;
  readonly originSubject?: string | undefined;
  readonly key: string;
  /** The period it missed. */
  readonly period: string;
  /** Its position in the batch's stream. */
  readonly stream: string;
  readonly seq: number;
  /** Stream sequence of the close that closed its period. */
  readonly closedBySeq: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly payload: Uint8Array;
  readonly payloadTruncated?: true | undefined;
}

/** Counters since start. */
export interface DurableBatchStats {
  /** Last input sequence committed by the accumulator. */
  position: number;
  /** Values currently in the open batch (period batches: values in open groups). */
  open: number;
  /** Period batches: groups accumulating (their period not closed), and groups of closed periods waiting for `complete`. */
  openGroups: number;
  waitingGroups: number;
  /** Period batches: waiting groups per period (only periods that have some). */
  waitingByPeriod: Record<string, number>;
  /** Period batches: values published to the late subject, and throws of `complete`. */
  late: number;
  ruleErrors: number;
  /** Input messages committed by the accumulator (values and triggers) since start. */
  inputs: number;
  /** Batches fully flushed (all chunks committed). */
  batchesFlushed: number;
  /** Values in the last batch flushed, and in the largest one, since start (0 before any). */
  lastBatchSize: number;
  maxBatchSize: number;
  /** Flush outputs committed and not yet acknowledged (the flush outbox's depth). */
  pendingOutputs: number;
  /** Chunks committed by flushes. */
  chunks: number;
  /** Values dead-lettered because their flush threw. */
  deadLettered: number;
  /** Flush outputs committed to the outbox / acknowledged by JetStream (duplicates included). */
  outputs: number;
  acked: number;
  duplicates: number;
  resent: number;
  publishErrors: number;
}

/** A running durable batch. */
export interface DurableBatchHandle {
  readonly name: string;
  readonly stats: DurableBatchStats;
  /** Settles when stopped: resolves after `stop()`, rejects with the fatal error (accumulator or flush). */
  readonly done: Promise<void>;
  /**
   * Resolves once input up to `seq` is committed, every batch closed (group sealed) by then is
   * flushed and all its outputs are acknowledged.
   */
  settled(seq: number): Promise<void>;
  /** Stops input, finishes the chunk in progress, waits for acks (up to `timeoutMs`, default 30000). */
  stop(options?: { timeoutMs?: number | undefined }): Promise<void>;
}
