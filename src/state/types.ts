/**
 * The contract of Sluice's state store: one LMDB environment per topology instance, holding
 *
 * - user namespaces (actor state, durable batch buffers...): each its own LMDB named database,
 *   string keys stored as `[partition, key]` with `partition = fnv1a32(key) % partitions`, so a
 *   partition's keys are one contiguous range that can later move to another instance;
 * - checkpoints (input position per exactly-once engine), the outbox (outputs committed but not yet
 *   acknowledged by JetStream) and durable timers, in reserved `sluice.*` databases.
 *
 * Values are msgpack-encoded by LMDB's own msgpackr with shared structures (field names are stored
 * once per database, not in every value). There is one writer: every change goes through
 * {@link StateStore.transaction} (or {@link StateStore.commit}), which is ONE synchronous LMDB
 * transaction — all of it is written, or none.
 */

/** Options of {@link openStateStore}. */
export interface StateStoreConfig {
  /** Directory of the LMDB environment; created when missing. */
  dir: string;
  /** Topology name. Recorded on first open; reopening with another name throws. */
  topology: string;
  /** Key partitions. Default 16. Fixed when the store is created; reopening with another value throws. */
  partitions?: number | undefined;
  /**
   * Size limit of the store, bytes. Default 4 GiB. Checked before every commit: once the file has
   * reached it, commits throw `StateFullError` (raise this value to go on).
   */
  mapSizeBytes?: number | undefined;
  /** Skip fsync on commit (tests, benchmarks): a machine crash may lose recent commits. Default false. */
  noSync?: boolean | undefined;
  /** How many namespaces (LMDB databases) may exist, reserved ones included. Default 64. */
  maxNamespaces?: number | undefined;
}

/** The input position an exactly-once engine has committed. */
export interface Checkpoint {
  /** Source stream. */
  readonly stream: string;
  /** Last stream sequence whose effects are committed; the engine resumes at `seq + 1`. */
  readonly seq: number;
  readonly filterSubject?: string | undefined;
  /** Epoch ms of the commit. */
  readonly updatedAt: number;
}

/**
 * One micro-batch's outputs as the engine stores them: an opaque blob (see the engine's outbox
 * codec), keyed by the engine name and the batch's last input sequence.
 */
export interface OutboxRecord {
  /** Last input sequence of the batch that produced these outputs. */
  readonly seq: number;
  /** Epoch ms of the commit, i.e. (just before) the first publish of these outputs. */
  readonly createdAt: number;
  readonly blob: Uint8Array;
}

/** A durable timer: fires at `dueAt` (epoch ms) with `payload`; one per (owner, key). */
export interface DurableTimer<P = unknown> {
  /** Who the timer belongs to, e.g. an actor name. */
  readonly owner: string;
  /** The timer's key within its owner; setting the same key again replaces it. */
  readonly key: string;
  readonly dueAt: number;
  readonly payload: P;
}

/** A user-namespace entry, as {@link StateStore.entries} yields it. */
export interface StateEntry<V> {
  readonly partition: number;
  readonly key: string;
  readonly value: V;
}

/** One change for {@link StateStore.commit}. */
export type StateWrite =
  | { readonly namespace: string; readonly key: string; readonly value: unknown; readonly delete?: false }
  | { readonly namespace: string; readonly key: string; readonly delete: true };

/** What a transaction callback may do; everything is applied atomically when the callback returns. */
export interface StateWriter {
  /** Stores `value` (msgpack-encoded now: later mutations of the object are not seen). */
  put(namespace: string, key: string, value: unknown): void;
  delete(namespace: string, key: string): void;
  putCheckpoint(engine: string, checkpoint: Checkpoint): void;
  putOutbox(engine: string, record: OutboxRecord): void;
  deleteOutbox(engine: string, seq: number): void;
  /** Sets or replaces the timer (owner, key). */
  setTimer(timer: DurableTimer): void;
  /** Cancels the timer (owner, key); no-op when there is none. */
  cancelTimer(owner: string, key: string): void;
}

/** Counters since the store was opened. */
export interface StateStoreStats {
  /** Write transactions committed. */
  commits: number;
}

/** See the module doc above. Open with `openStateStore`. */
export interface StateStore {
  readonly dir: string;
  readonly topology: string;
  readonly partitions: number;
  readonly mapSizeBytes: number;
  readonly stats: Readonly<StateStoreStats>;

  /** The partition a key belongs to. */
  partitionOf(key: string): number;
  /** The committed value, or undefined. */
  get<V>(namespace: string, key: string): V | undefined;
  /** Entries of a namespace, partition by partition, keys in order within a partition. Lazy. */
  entries<V>(namespace: string, options?: { partition?: number | undefined }): Iterable<StateEntry<V>>;

  /**
   * Runs `fn` and commits everything it wrote in ONE synchronous LMDB transaction. If `fn` throws,
   * nothing is written and the error is rethrown.
   *
   * @throws StateFullError when the size limit or the disk is reached (nothing written).
   */
  transaction(fn: (writer: StateWriter) => void): void;
  /**
   * Like {@link transaction}, but LMDB applies and commits the writes on its writer thread: `fn`
   * only queues them (reads inside `fn` see the last committed state, not writes queued before).
   * Resolves once committed; commits happen in call order.
   *
   * @throws StateFullError (synchronously or as the rejection) when the store is full.
   */
  transactionAsync(fn: (writer: StateWriter) => void): Promise<void>;
  /** Applies `writes` in one transaction; see {@link transaction}. */
  commit(writes: Iterable<StateWrite>): void;

  checkpoint(engine: string): Checkpoint | undefined;
  /** The engine's outbox records, oldest (lowest seq) first. */
  outbox(engine: string): Iterable<OutboxRecord>;

  timer<P>(owner: string, key: string): DurableTimer<P> | undefined;
  /** Timers due at or before `nowMs`, earliest first (ties by owner, then key), at most `limit`. */
  dueTimers<P>(nowMs: number, options?: { limit?: number | undefined }): DurableTimer<P>[];
  /** All timers of `owner`, in partition then key order. */
  timers<P>(owner: string): Iterable<DurableTimer<P>>;

  /** Bytes the store's file uses (its high-water mark). */
  usedBytes(): number;
  /** Closes the environment; idempotent. */
  close(): Promise<void>;
}
