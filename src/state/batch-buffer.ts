/**
 * Where `batchUntil` keeps envelopes until its trigger fires. The in-memory buffer here is the
 * default; the durable buffers (`lmdbBatchBuffer`, `fileBatchBuffer`) implement the same interface
 * so a nightly batch survives restarts and is never materialised as one array.
 *
 * Lifecycle: values are appended to the OPEN segment; when the trigger fires, `seal()` closes it
 * as batch number `seq` (1, 2, 3, ... — durable buffers persist the counter so batch ids are
 * deterministic across restarts) and opens a new one. A sealed segment is read in chunks while
 * new values are appended, and `release()`d once its batch has been processed. Segments sealed
 * but not released (a crash mid-processing) are returned by `unreleased()` and re-emitted.
 *
 * Reads are synchronous on purpose: LMDB reads are (`getRange`), and synchronous reads keep
 * chunked processing testable in virtual time and let the reader pull one chunk at a time.
 */
export interface BatchBuffer<T> {
  /**
   * True when an appended value survives a crash of the process (the LMDB and file buffers). `batchUntil`
   * then acknowledges each input as soon as its value is stored: the batch is the buffer's to
   * keep. Otherwise (memory) it keeps every input unacknowledged until its batch is processed.
   */
  readonly durable?: boolean | undefined;
  /** Appends a value to the open segment. Durable buffers write it before returning. */
  append(value: T): void;
  /** Appends values in order, at once (one transaction for a durable buffer). Optional: `append` each otherwise. */
  appendAll?(values: readonly T[]): void;
  /** Values in the open segment. */
  count(): number;
  /** Closes the open segment (possibly empty) as the next batch and opens a new one. */
  seal(): SealedSegment<T>;
  /** Sealed segments not yet released, oldest first. */
  unreleased(): readonly SealedSegment<T>[];
}

/** A closed segment of a {@link BatchBuffer}: one batch's contents. */
export interface SealedSegment<T> {
  /** Batch number within this buffer: 1 for the first sealed segment, then 2, 3, ... */
  readonly seq: number;
  readonly count: number;
  /** Stream sequence of the first / last value, for values that carry one (`seq`). */
  readonly firstSeq?: number | undefined;
  readonly lastSeq?: number | undefined;
  /** Up to `size` values starting at index `from` (0-based); empty past the end or after release. */
  read(from: number, size: number): readonly T[];
  /** Deletes the segment's values; idempotent. */
  release(): void;
}

/** Options for {@link memoryBatchBuffer}. */
export interface MemoryBatchBufferConfig<T> {
  /** Stream sequence of a value, for `firstSeq`/`lastSeq`. Default: `value.seq` when it is a number. */
  seqOf?: ((value: T) => number | undefined) | undefined;
}

/**
 * A {@link BatchBuffer} in process memory: nothing survives a restart (the source must redeliver:
 * `batchUntil` keeps the inputs of a memory batch unacknowledged until the batch is processed),
 * and it holds the open segment plus every sealed segment until it is released — release each
 * batch after processing it, or memory grows.
 */
export function memoryBatchBuffer<T>(config: MemoryBatchBufferConfig<T> = {}): BatchBuffer<T> {
  const seqOf = config.seqOf ?? defaultSeqOf;
  let open: T[] = [];
  let nextSeq = 1;
  const sealed = new Map<number, SealedSegment<T>>();

  return {
    append: (value) => {
      open.push(value);
    },
    count: () => open.length,
    seal: () => {
      let values: T[] | undefined = open;
      open = [];
      const seq = nextSeq++;
      const first = values[0];
      const last = values[values.length - 1];
      const segment: SealedSegment<T> = {
        seq,
        count: values.length,
        firstSeq: first === undefined ? undefined : seqOf(first),
        lastSeq: last === undefined ? undefined : seqOf(last),
        read: (from, size) => (values === undefined ? [] : values.slice(from, from + size)),
        release: () => {
          values = undefined;
          sealed.delete(seq);
        },
      };
      sealed.set(seq, segment);
      return segment;
    },
    unreleased: () => [...sealed.values()],
  };
}

/** A value's source sequence when it has a numeric `seq` (an envelope, a settled value): what a buffer's `seqOf` defaults to. */
export function defaultSeqOf(value: unknown): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const seq = (value as { seq?: unknown }).seq;
  return typeof seq === 'number' ? seq : undefined;
}
