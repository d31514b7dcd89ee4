import { from, Observable, type ObservableInput, type Subscription } from 'rxjs';
import { BufferOverflowError, ensureError } from '../../src/errors.js';
import { InterruptedError } from '../../src/settle/interrupted-error.js';
import { withSettlement } from '../../src/settle/settle-scope.js';
import { Settlement } from '../../src/settle/settlement.js';
import type { SealedSegment } from '../../src/state/batch-buffer.js';
import { requireInt } from './validate-config.js';

/** Why a batch was flushed: a trigger's reason, or one of the operator's own. */
export type BatchReason = string;

/**
 * One flushed batch. Its contents stay in the buffer and are read in chunks, so a batch of
 * millions of values is never one array. Call `release()` once it is processed.
 *
 * A batch settles — its inputs are acknowledged (memory buffer) or its stored values deleted
 * (durable buffer) — when it is released AND every effect done in its name is complete: the
 * results of `processChunks` run in its settlement scope, so a durable sink downstream holds it
 * until its publish ack. A batch whose processing failed (`fail`, or `processChunks` erroring or
 * being unsubscribed before its end) settles as failed on release: a memory batch's inputs are
 * redelivered by their stream, a durable batch stays stored and is emitted again (`'recovered'`)
 * on the next start.
 */
export interface Batch<T> {
  /** `<name>:<seq>`: deterministic, so re-processing after a restart reuses the same id. */
  readonly batchId: string;
  readonly name: string;
  /** 1 for the buffer's first batch, then 2, 3, ... */
  readonly seq: number;
  /** The trigger's reason, `'max-items'`, `'complete'`, or `'recovered'` (sealed before a restart). */
  readonly reason: BatchReason;
  readonly count: number;
  /** Stream sequence of the first / last value, for values that carry one. */
  readonly firstSeq?: number | undefined;
  readonly lastSeq?: number | undefined;
  /** Pulls the values in arrays of at most `size`, one read per step (`for (const c of batch.chunks(1000))`). */
  chunks(size: number): Iterable<readonly T[]>;
  /**
   * Runs `work` for each chunk, reading the next chunk only when the previous work completed, so
   * at most one chunk is in memory; emits what `work` emits, in the batch's settlement scope.
   * Errors with what `work` errors with, and then the batch is failed; so is it when unsubscribed
   * before the last chunk's work completed.
   */
  processChunks<R>(size: number, work: (chunk: readonly T[], index: number) => ObservableInput<R>): Observable<R>;
  /** All values as one array, for small batches. @throws BufferOverflowError above `maxCount` (default 10000). */
  items(maxCount?: number): readonly T[];
  /** Marks the batch failed (the first error is kept); it settles as failed on `release()`. */
  fail(error: unknown): void;
  /** Done with the batch: it settles once the effects done in its name are complete. Idempotent. */
  release(): void;
}

/**
 * Wraps a sealed buffer segment as the {@link Batch} that `batchUntil` emits. With `settlement`
 * (the batch's own, created by `batchUntil`), `release()` releases the batch's hold on it and
 * the owner frees the segment when it settles; work and results of `processChunks` run in its
 * scope, and a `processChunks` that errors or is unsubscribed before its end fails it. Without
 * one, `release()` frees the segment at once.
 */
export function makeBatch<T>(name: string, reason: string, segment: SealedSegment<T>, settlement?: Settlement): Batch<T> {
  const batchId = `${name}:${segment.seq}`;
  let released = false;
  const chunks = (size: number): Iterable<readonly T[]> => {
    requireInt('batch.chunks', 'size', size, 1);
    return {
      *[Symbol.iterator]() {
        for (let from = 0; from < segment.count; from += size) {
          const chunk = segment.read(from, size);
          if (chunk.length === 0) return;
          yield chunk;
        }
      },
    };
  };
  return {
    batchId,
    name,
    seq: segment.seq,
    reason,
    count: segment.count,
    firstSeq: segment.firstSeq,
    lastSeq: segment.lastSeq,
    chunks,
    processChunks: <R>(size: number, work: (chunk: readonly T[], index: number) => ObservableInput<R>) =>
      new Observable<R>((subscriber) => {
        const iterator = chunks(size)[Symbol.iterator]();
        let index = 0;
        let inner: Subscription | undefined;
        // The chunk in work: its own settlement, holding the batch's. Outputs are numbered per
        // chunk, so a stage downstream that reorders them does not change their ids.
        let current: Settlement | undefined;
        let looping = false;
        let wanted = false;
        let finished = false;
        const failed = (err: unknown): void => {
          finished = true;
          settlement?.fail(ensureError(err));
          current?.fail(ensureError(err));
          current?.release();
          current = undefined;
          subscriber.error(err);
        };
        // Pull-driven: the next chunk is read only after the previous work completed, so at most
        // one chunk is held (`from(iterable).pipe(concatMap(...))` would read them all at once).
        // A loop, not recursion, so work that completes synchronously does not grow the stack.
        const pull = (): void => {
          current?.release();
          current = undefined;
          wanted = true;
          if (looping) return;
          looping = true;
          while (wanted && !subscriber.closed) {
            wanted = false;
            try {
              const step = iterator.next();
              if (step.done === true) {
                finished = true;
                subscriber.complete();
                break;
              }
              const i = index++;
              const chunk = step.value;
              const scope = (current = chunkSettlement(settlement, i));
              inner = withSettlement(scope, () =>
                from(work(chunk, i)).subscribe({
                  next: (r) => withSettlement(scope, () => subscriber.next(r)),
                  error: failed,
                  complete: pull,
                }),
              );
            } catch (err) {
              failed(err);
            }
          }
          looping = false;
        };
        pull();
        return () => {
          inner?.unsubscribe();
          if (finished) return;
          const interrupted = new InterruptedError('batch.processChunks', `'${batchId}' was unsubscribed before every chunk was processed`);
          settlement?.fail(interrupted);
          current?.fail(interrupted);
          current?.release();
        };
      }),
    items: (maxCount = 10_000) => {
      if (segment.count > maxCount) {
        throw new BufferOverflowError(
          'batch.items',
          maxCount,
          `batch '${name}:${segment.seq}' has ${segment.count} values; read it with chunks() or processChunks()`,
        );
      }
      return segment.read(0, segment.count);
    },
    fail: (error) => settlement?.fail(ensureError(error)),
    release: () => {
      if (released) return;
      released = true;
      if (settlement === undefined) segment.release();
      else settlement.release();
    },
  };
}

/** A settlement for chunk `index` of a batch, holding the batch's until it settles; none without one. */
function chunkSettlement(batch: Settlement | undefined, index: number): Settlement | undefined {
  if (batch === undefined || !batch.hold()) return undefined;
  return new Settlement(`${batch.key}:${index}`, batch.replayStable, (failure) => {
    if (failure !== undefined) batch.fail(failure);
    batch.release();
  });
}
