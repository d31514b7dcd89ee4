import type { Logger } from '../logger.js';
import type { SchedulerLike } from 'rxjs';
import type { StateStore } from '../state/types.js';
import type { StreamMessage, Transport } from '../transport/transport.js';

/*
 * Changes since the draft (all additive; the draft's members are unchanged):
 * - `ExactlyOnceTxn.afterCommit(fn)`: run `fn` once the batch is committed (replies, timer
 *   notifications). Optional in the type so fakes without it still type-check; the engine has it.
 * - Output ids are `<topology>.<engine name>.<seq>.<index>`: the "source" segment is the engine's
 *   `name`, because two engines may consume the same stream and their ids must not collide.
 * - The engine's config, handle, stats, logger and testing-only fault hook are defined here.
 * - The engine takes a `Transport` (not a NATS connection): all its broker I/O goes through the
 *   transport contract, so it also runs on the in-process `LocalTransport` (durability off).
 */

/**
 * The contract between the exactly-once engine (src/exactly-once) and what runs on it (actors,
 * durable batches).
 *
 * The engine reads one stream from `checkpoint + 1` with an ordered reader, cuts it into
 * micro-batches, and for each batch calls `process(batch, txn)`. Everything `process` writes
 * through `txn` — state puts/deletes, outputs — is committed in ONE LMDB transaction together with
 * the batch's last input sequence. Outputs are then published from the outbox with a
 * deterministic `Nats-Msg-Id` (`<topology>.<engine>.<seq>.<index>`) and removed after the ack.
 * A throw from `process` fails the batch before anything is committed.
 *
 * `process` must be deterministic: after a crash a batch is processed again from the committed
 * state, and only identical outputs under identical ids are dropped as duplicates by JetStream.
 */
export interface ExactlyOnceTxn {
  /** Reads a value written earlier (committed, or written earlier in this batch). */
  get<V>(namespace: string, key: string): V | undefined;
  /**
   * Writes `value` at commit (it is encoded then: do not mutate it afterwards).
   * @throws StateKeyTooLongError for a key past `MAX_STATE_KEY_BYTES` (1900 UTF-8 bytes): check
   * or hash keys that come from input before they get here, or the batch fails.
   */
  put<V>(namespace: string, key: string, value: V): void;
  /** @throws StateKeyTooLongError as {@link put} does. */
  delete(namespace: string, key: string): void;
  /**
   * Queues an output for `subject`; published after commit with a message id derived from the
   * input message's position and `index` of outputs for that input, so a replay after a crash
   * yields identical ids. `input` must belong to the batch being processed.
   */
  emit(input: StreamMessage, subject: string, data: Uint8Array, headers?: Readonly<Record<string, string>>): void;
  /** Runs `fn` after the batch is committed (never if the batch fails). Errors thrown by `fn` are logged. */
  afterCommit?(fn: () => void): void;
}

/** Processes one micro-batch of input; may be async (e.g. an actor asks another service). */
export type BatchProcessor = (batch: readonly StreamMessage[], txn: ExactlyOnceTxn) => void | Promise<void>;

/** Where in the commit protocol a testing fault may be injected. */
export type FaultPoint =
  /** `process` returned; nothing of the batch is committed. */
  | 'before-commit'
  /** The batch (state, outbox, checkpoint) is committed; none of its outputs is published. */
  | 'after-commit'
  /** Called before each output is sent; `published` outputs of the batch were sent already. */
  | 'mid-publish'
  /** Outputs were acknowledged; the commit that removes them from the outbox is about to run. */
  | 'before-outbox-removal';

/** What a fault hook is told. */
export interface FaultContext {
  readonly point: FaultPoint;
  /** Last input sequence of the batch concerned (of the acknowledged batches, for removal). */
  readonly seq: number;
  /** For `mid-publish`: outputs of this batch already sent. */
  readonly published?: number | undefined;
}

/** Options of `startExactlyOnce`. */
export interface ExactlyOnceConfig {
  /**
   * Stable name of this engine within the topology: the checkpoint and outbox key, the consumer
   * name prefix and the second segment of output ids. Changing it restarts from the stream's start.
   * Letters, digits, `-` and `_` only.
   */
  name: string;
  /**
   * Where input is read and outputs are published: a `NatsTransport` (connected with unlimited
   * reconnects; `NatsTransport.connect` sets `noAsyncTraces`) or a `LocalTransport` (in-process,
   * durability off: a warning says so at start). The caller owns it.
   */
  transport: Transport;
  /** The topology's state store; its `topology` is the first segment of output ids. */
  store: StateStore;
  source: {
    /** Stream to consume. */
    stream: string;
    /** One subject filter (nats-server 2.9 has no multi-filter consumers). Default: all. */
    filterSubject?: string | undefined;
  };
  outputs?:
    | {
        /**
         * The output streams' duplicate window, ms, used to detect outbox entries older than it after an
         * outage. Default: read from the output streams when the outbox is not empty at start.
         */
        duplicateWindowMs?: number | undefined;
        /** Outputs sent and not yet acknowledged, at most. Default 4096. */
        maxInFlight?: number | undefined;
        /** Re-send an output (same id) when its ack has not come after this, ms. Default 5000. */
        ackTimeoutMs?: number | undefined;
        /** Outputs committed but not yet acknowledged before input is paused. Default 4 × batch.maxCount. */
        maxPending?: number | undefined;
      }
    | undefined;
  batch?:
    | {
        /** Most input messages per micro-batch (= per LMDB commit). Default 1000. */
        maxCount?: number | undefined;
        /**
         * How long a batch waits for more input after its first message, ms. Default 10. With 0 a batch
         * takes whatever has arrived (natural batching).
         */
        maxWaitMs?: number | undefined;
      }
    | undefined;
  /** Input messages fetched ahead, at most. Default 2 × batch.maxCount. */
  maxBufferedInputs?: number | undefined;
  process: BatchProcessor;
  /**
   * Committed state values kept in memory for `txn.get` (most recently inserted kept). Default
   * 10000; 0 disables. Values are shared objects: `put` what you change, never mutate in place only.
   */
  stateCacheEntries?: number | undefined;
  logger?: Logger | undefined;
  /** Clock and timers (batch wait, ack sweep, retries). Default `asyncScheduler`. */
  scheduler?: SchedulerLike | undefined;
  /**
   * TESTING ONLY: called at each step of the commit protocol; throwing makes the engine stop at that
   * point as if the process had crashed (nothing more is committed or published).
   * @internal not part of the package's types (`stripInternal`); crash tests import the source.
   */
  faults?: ((ctx: FaultContext) => void) | undefined;
}

/** Counters since the engine started. */
export interface ExactlyOnceStats {
  /** Last input sequence committed. */
  position: number;
  batches: number;
  inputs: number;
  /** Outputs committed to the outbox. */
  outputs: number;
  /** Outputs acknowledged by JetStream (duplicates included). */
  acked: number;
  /** Acks that said `duplicate` (re-publishes the server dropped). */
  duplicates: number;
  /** Outputs sent again after an ack timeout, an error or a reconnect. */
  resent: number;
  /** Publish errors from the server (no stream, limits...), each retried. */
  publishErrors: number;
  /** Outputs sent and not yet acknowledged. */
  inFlight: number;
  /** Outbox batches not yet fully acknowledged. */
  pendingOutboxBatches: number;
  /** Outputs committed to the outbox and not yet acknowledged (the outbox's depth). */
  pendingOutputs: number;
  /** Inputs in the last micro-batch committed, and in the largest one, since start (0 before any). */
  lastBatchSize: number;
  maxBatchSize: number;
  /** LMDB commits by this engine. */
  commits: number;
  /** Times the input reader started over (reconnect, gap, missed heartbeats). */
  consumerResets: number;
  /** Outbox entries found at start that were older than the duplicate window. */
  staleOutputs: number;
  /** ...of which found already stored in their output stream, so not published again. */
  staleOutputsFound: number;
  /** ...of which could not be checked and were published again (possible duplicates). */
  staleOutputsUnverified: number;
}

/** A running engine. */
export interface ExactlyOnceHandle {
  readonly name: string;
  /** Last input sequence committed (effects durable in LMDB). */
  readonly position: number;
  /** A snapshot of the counters. */
  readonly stats: ExactlyOnceStats;
  /** Settles when the engine stops: resolves after `stop()`, rejects with the fatal error. */
  readonly done: Promise<void>;
  /**
   * Resolves once input up to `seq` is committed and all its outputs are acknowledged; rejects if
   * the engine fails first. With a `filterSubject`, `seq` must be a sequence the filter matches
   * (the position only moves to sequences the engine receives).
   */
  settled(seq: number): Promise<void>;
  /**
   * Drains: stops fetching input, finishes the batch in progress, waits (up to `timeoutMs`,
   * default 30000) for the outbox to be acknowledged, removes it and resolves. The store and the
   * transport stay open (the caller owns them).
   */
  stop(options?: { timeoutMs?: number | undefined }): Promise<void>;
}
