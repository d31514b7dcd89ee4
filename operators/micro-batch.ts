import { Observable, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { BatchAccumulator } from './internal/batch-accumulator.js';
import { validateBatchLimits } from './internal/batch-limits.js';
import { subscribeLinked } from './internal/batch-subscribe-linked.js';

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
}

/**
 * Groups values into batches (arrays), cut by whichever comes first: `maxCount` values,
 * `maxBytes` bytes, `maxWaitMs` since the batch's first value, or `idleMs` without input. Order is
 * kept, a value appears in exactly one batch, and an empty batch is never emitted (unlike
 * `bufferTime`).
 *
 * - Emits: when a limit is reached (synchronously for count/bytes, on the scheduler for time),
 *   and the remainder when the source completes.
 * - Holds: the batch being formed only — at most `maxCount` values and, with `maxBytes`, at most
 *   `maxBytes` bytes (plus one oversized value). Emitted batches belong to the downstream; RxJS
 *   pushes, so a slow asynchronous downstream (`mergeMap`, `concatMap`) buffers them without a
 *   bound. Use {@link microBatchProcess} when the downstream is asynchronous: it runs the work
 *   for one batch at a time and bounds what is buffered.
 * - Fails: source errors are forwarded at once and the batch being formed is dropped (its values
 *   were not acknowledged, so a JetStream source delivers them again). A throwing `sizeOf`
 *   errors the output.
 *
 * ```ts
 * orders$.pipe(microBatch({ maxCount: 500, maxWaitMs: 5_000, maxBytes: 1_000_000 }))
 * ```
 * @throws InvalidConfigError at creation for a bad limit.
 */
export function microBatch<T>(config: MicroBatchConfig<T>): OperatorFunction<T, T[]> {
  const limits = validateBatchLimits('microBatch', config);
  return (source) =>
    new Observable<T[]>((subscriber) => {
      const acc = new BatchAccumulator<T>(limits, (batch) => subscriber.next(batch));
      subscriber.add(() => acc.dispose());
      subscribeLinked(source, subscriber, {
        next: (value) => {
          try {
            acc.push(value);
          } catch (err) {
            subscriber.error(err);
          }
        },
        error: (err) => subscriber.error(err),
        complete: () => {
          acc.cut('complete');
          subscriber.complete();
        },
      });
    });
}
