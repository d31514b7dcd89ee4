import { InvalidConfigError } from '../errors.js';
import { defaultSeqOf, type BatchBuffer, type SealedSegment } from './batch-buffer.js';
import type { StateStore } from './types.js';

/**
 * Key layout of a durable batch buffer inside its namespace (`batch.<name>`), shared by
 * {@link lmdbBatchBuffer} and the exactly-once durable batch (which writes the same keys through
 * its engine transaction, so either can read what the other wrote):
 *
 * - `acc`: the open segment `{ open, count, firstSeq?, lastSeq? }` — written by the accumulator only;
 * - `v.<segment>.<index>`: one value;
 * - `seg.<segment>`: a sealed segment's {@link SegmentInfo} — written at seal, deleted when released;
 * - `low`: lowest segment that may still be unreleased — written by whoever releases.
 *
 * The exactly-once durable batch also keeps a queue of sealed segments, because period batches
 * seal groups out of creation order: `sq.<i>` = a segment number, `sqt` the next free index
 * (written by the accumulator), `sqh` the next to flush (written by the flusher). Its period
 * groups (see `periodBatchLayout`) live in the same namespace.
 *
 * Values are one key each rather than one array per chunk so an append is one put, whatever the
 * chunk size the reader later chooses. The store's namespaces are hash-partitioned, so a segment
 * is not one contiguous key range: a chunk is read with one point get per value (~1 µs each),
 * which keeps memory at one chunk just as a range read would.
 */
export const batchBufferLayout = {
  namespace: (name: string): string => `batch.${name}`,
  acc: 'acc',
  low: 'low',
  value: (segment: number, index: number): string => `v.${segment}.${index}`,
  segment: (segment: number): string => `seg.${segment}`,
  queued: (index: number): string => `sq.${index}`,
  queueHead: 'sqh',
  queueTail: 'sqt',
} as const;

/**
 * Queues a sealed segment for the flusher (`sq.<tail>`, then `sqt` + 1), through the writer of the
 * accumulator's transaction.
 */
export function enqueueSealed(
  w: { get<V>(ns: string, key: string): V | undefined; put<V>(ns: string, key: string, value: V): void },
  ns: string,
  segment: number,
): void {
  const tail = w.get<number>(ns, batchBufferLayout.queueTail) ?? 0;
  w.put(ns, batchBufferLayout.queued(tail), segment);
  w.put(ns, batchBufferLayout.queueTail, tail + 1);
}

/** The open segment as stored under `acc`. */
export interface OpenSegmentInfo {
  /** Number the open segment gets when sealed. */
  readonly open: number;
  readonly count: number;
  readonly firstSeq?: number | undefined;
  readonly lastSeq?: number | undefined;
}

/** A sealed segment as stored under `seg.<n>`. */
export interface SegmentInfo {
  readonly seq: number;
  readonly count: number;
  readonly firstSeq?: number | undefined;
  readonly lastSeq?: number | undefined;
  /** Why it was sealed (a trigger's reason), when the sealer says. */
  readonly reason?: string | undefined;
  /** Period batches: the group's key, period and tally. */
  readonly key?: string | undefined;
  readonly period?: string | undefined;
  readonly tally?: unknown;
  /** Set once release started: its values are being deleted, it is no longer readable. */
  readonly releasing?: true | undefined;
}

/** Options of {@link lmdbBatchBuffer}. */
export interface LmdbBatchBufferConfig<T> {
  /** The topology's state store (`openStateStore`). */
  store: StateStore;
  /** Stable buffer name (the batch name): the namespace is `batch.<name>`. Letters, digits, `-`, `_`. */
  name: string;
  /** Stream sequence of a value, for `firstSeq`/`lastSeq`. Default: `value.seq` when it is a number. */
  seqOf?: ((value: T) => number | undefined) | undefined;
  /** Values deleted per LMDB transaction when a segment is released. Default 10000. */
  releaseChunk?: number | undefined;
}

/** An LMDB {@link BatchBuffer}, plus a bulk append. */
export interface LmdbBatchBuffer<T> extends BatchBuffer<T> {
  /** Appends all `values` in ONE transaction (much faster than `append` per value). */
  appendAll(values: Iterable<T>): void;
}

const NAME = /^[A-Za-z0-9_-]{1,100}$/;

/**
 * A {@link BatchBuffer} in the topology's LMDB state store: every `append` is committed before it
 * returns (one transaction; use `appendAll` for many), sealed segments and the batch counter
 * survive restarts, and `read(from, size)` loads only the requested values, so a batch of millions
 * is never one array.
 *
 * - Holds in memory: nothing but the chunk being read (the segment list is read from LMDB).
 * - Cost: each `append` is one commit, bound by fsync (a few hundred per second on a small disk);
 *   `appendAll` commits many at once, and `startDurableBatch` commits once per input micro-batch.
 * - Fails: `StateFullError` from append/seal when the store is full (nothing written).
 * - Release deletes a segment's values `releaseChunk` at a time; a crash mid-release finishes it
 *   when the buffer is next opened.
 *
 * It is `durable`: `batchUntil` acknowledges each input from a stream once its value is committed
 * here (one commit per event-loop turn), and deletes a batch only when the batch's effects are
 * complete; a failed or interrupted batch is emitted again on the next start. Not exactly-once on
 * its own: what was appended but not yet acknowledged upstream is appended again on redelivery.
 * For input-exact accumulation use `startDurableBatch`.
 *
 * ```ts
 * const buffer = lmdbBatchBuffer<Envelope>({ store, name: 'prefs' });
 * prefs$.pipe(batchUntil(onSubject(endOfDay$), { name: 'prefs', buffer }), ...)
 * ```
 * @throws InvalidConfigError for a bad name or option.
 */
export function lmdbBatchBuffer<T>(config: LmdbBatchBufferConfig<T>): LmdbBatchBuffer<T> {
  const { store } = config;
  if (store === undefined || typeof store.transaction !== 'function')
    throw new InvalidConfigError('lmdbBatchBuffer', 'store', 'must be a StateStore (openStateStore)');
  if (typeof config.name !== 'string' || !NAME.test(config.name))
    throw new InvalidConfigError('lmdbBatchBuffer', 'name', `must be 1-100 letters, digits, '-' or '_', got ${JSON.stringify(config.name)}`);
  const releaseChunk = config.releaseChunk ?? 10_000;
  if (!Number.isInteger(releaseChunk) || releaseChunk < 1)
    throw new InvalidConfigError('lmdbBatchBuffer', 'releaseChunk', `must be an integer >= 1, got ${releaseChunk}`);
  const seqOf = config.seqOf ?? defaultSeqOf;
  const L = batchBufferLayout;
  const ns = L.namespace(config.name);

  const acc = (): OpenSegmentInfo => store.get<OpenSegmentInfo>(ns, L.acc) ?? { open: 1, count: 0 };
  const low = (): number => store.get<number>(ns, L.low) ?? 1;

  const segmentOf = (n: number): SealedSegment<T> => {
    const info = store.get<SegmentInfo>(ns, L.segment(n));
    const count = info?.count ?? 0;
    return {
      seq: n,
      count,
      firstSeq: info?.firstSeq,
      lastSeq: info?.lastSeq,
      read: (from, size) => {
        const current = store.get<SegmentInfo>(ns, L.segment(n));
        if (current === undefined || current.releasing === true) return [];
        const end = Math.min(count, from + Math.max(0, size));
        const out: T[] = [];
        for (let i = Math.max(0, from); i < end; i++) {
          const v = store.get<T>(ns, L.value(n, i));
          if (v !== undefined) out.push(v);
        }
        return out;
      },
      release: () => release(n),
    };
  };

  const release = (n: number): void => {
    const info = store.get<SegmentInfo>(ns, L.segment(n));
    if (info === undefined) return;
    // Marked first, so a crash mid-delete never leaves a readable, half-deleted segment.
    if (info.releasing !== true) store.transaction((w) => w.put(ns, L.segment(n), { ...info, releasing: true }));
    for (let from = 0; from < info.count; from += releaseChunk) {
      const end = Math.min(info.count, from + releaseChunk);
      store.transaction((w) => {
        for (let i = from; i < end; i++) w.delete(ns, L.value(n, i));
      });
    }
    store.transaction((w) => {
      w.delete(ns, L.segment(n));
      if (low() === n) w.put(ns, L.low, nextLow(n + 1));
    });
  };

  // Advances past segments released out of order.
  const nextLow = (from: number): number => {
    const open = acc().open;
    let n = from;
    while (n < open && store.get<SegmentInfo>(ns, L.segment(n)) === undefined) n++;
    return n;
  };

  const sealedNumbers = (): { n: number; info: SegmentInfo }[] => {
    const out: { n: number; info: SegmentInfo }[] = [];
    const open = acc().open;
    for (let n = low(); n < open; n++) {
      const info = store.get<SegmentInfo>(ns, L.segment(n));
      if (info !== undefined) out.push({ n, info });
    }
    return out;
  };

  for (const { n, info } of sealedNumbers()) if (info.releasing === true) release(n);

  const appendAll = (values: Iterable<T>): void => {
    store.transaction((w) => {
      let a = acc();
      for (const value of values) {
        w.put(ns, L.value(a.open, a.count), value);
        const s = seqOf(value);
        a = { open: a.open, count: a.count + 1, firstSeq: a.count === 0 ? s : a.firstSeq, lastSeq: s };
      }
      w.put(ns, L.acc, a);
    });
  };

  return {
    durable: true,
    append: (value) => appendAll([value]),
    appendAll,
    count: () => acc().count,
    seal: () => {
      const a = acc();
      store.transaction((w) => {
        w.put(ns, L.segment(a.open), { seq: a.open, count: a.count, firstSeq: a.firstSeq, lastSeq: a.lastSeq } satisfies SegmentInfo);
        w.put(ns, L.acc, { open: a.open + 1, count: 0 } satisfies OpenSegmentInfo);
      });
      return segmentOf(a.open);
    },
    unreleased: () =>
      sealedNumbers()
        .filter((s) => s.info.releasing !== true)
        .map((s) => segmentOf(s.n)),
  };
}
