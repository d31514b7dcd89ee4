import { from, Observable, type ObservableInput, type OperatorFunction, type Subscription } from 'rxjs';
import { BufferOverflowError, InvalidConfigError } from '../src/errors.js';
import { BatchAccumulator } from './internal/batch-accumulator.js';
import { validateBatchLimits } from './internal/batch-limits.js';
import { subscribeLinked } from './internal/batch-subscribe-linked.js';
import { optionalInt, requireFunction, requireInt } from './internal/batch-validate.js';
import type { MicroBatchConfig } from './micro-batch.js';

/** A source that can be told to stop and restart delivery (e.g. a pull consumer that stops fetching). */
export interface PauseControl {
  pause(): void;
  resume(): void;
}

/** Config for {@link microBatchProcess}: the micro-batch limits plus the work and its bounds. */
export interface MicroBatchProcessConfig<T, R> extends MicroBatchConfig<T> {
  /** The work for one batch (publish, write, commit). Batches run one at a time, in order. */
  process: (batch: T[]) => ObservableInput<R>;
  /**
   * Most values held while a batch is being processed: the batch being formed plus batches
   * waiting their turn (the batch in progress is not counted). Going past it errors the output
   * with `BufferOverflowError`. Integer >= `maxCount`.
   */
  maxBufferedCount: number;
  /**
   * Tells a pausable source to stop when `pauseAtCount` values are held, and to resume when
   * fewer are. Without it, a source faster than `process` for long enough overflows.
   */
  pauseControl?: PauseControl | undefined;
  /**
   * Held values at which `pauseControl.pause()` is called. Leave room below `maxBufferedCount`
   * for what the source still delivers after pausing (a pull consumer's outstanding fetch).
   * Default `floor(maxBufferedCount / 2)`, at least 1.
   */
  pauseAtCount?: number | undefined;
}

/**
 * Micro-batches values exactly like `microBatch` and runs `process` for each batch, one batch at a
 * time and in order, emitting what `process` emits. While a batch is in progress, new values keep
 * being batched and complete batches wait their turn; that waiting is bounded by
 * `maxBufferedCount`, and a `pauseControl` lets the source be paused before the bound is hit.
 *
 * - Emits: the values of each `process` call, batch after batch in input order.
 * - Holds: the batch in progress, plus at most `maxBufferedCount` values (forming + waiting).
 * - Completes: after the source completes and every batch, including the remainder, is processed.
 * - Fails: a `process` error or throw errors the output (retry inside `process` for transient
 *   failures); a source error is forwarded at once and waiting batches are dropped (unacked, so a
 *   JetStream source redelivers them); too many held values → `BufferOverflowError`.
 *
 * ```ts
 * orders$.pipe(microBatchProcess({
 *   maxCount: 500, maxWaitMs: 1_000, maxBufferedCount: 5_000,
 *   process: (batch) => from(writeRows(batch)),
 * }))
 * ```
 * @throws InvalidConfigError at creation for a bad limit.
 */
export function microBatchProcess<T, R>(config: MicroBatchProcessConfig<T, R>): OperatorFunction<T, R> {
  const name = 'microBatchProcess';
  const limits = validateBatchLimits(name, config);
  const process = requireFunction(name, 'process', config.process);
  const maxBuffered = requireInt(name, 'maxBufferedCount', config.maxBufferedCount, limits.maxCount);
  const pauseAt =
    optionalInt(name, 'pauseAtCount', config.pauseAtCount, 1) ?? Math.max(1, Math.floor(maxBuffered / 2));
  if (pauseAt > maxBuffered) {
    throw new InvalidConfigError(name, 'pauseAtCount', `must be <= maxBufferedCount (${maxBuffered}), got ${pauseAt}`);
  }
  const control = config.pauseControl;

  return (source) =>
    new Observable<R>((subscriber) => {
      const waiting: T[][] = [];
      let waitingCount = 0;
      let busy = false;
      let draining = false;
      let sourceDone = false;
      let paused = false;
      let inner: Subscription | undefined;

      const held = () => waitingCount + acc.count;
      const acc = new BatchAccumulator<T>(limits, (batch) => {
        waiting.push(batch);
        waitingCount += batch.length;
        drain();
      });

      const setPaused = (want: boolean) => {
        if (control === undefined || paused === want) return;
        paused = want;
        try {
          if (want) control.pause();
          else control.resume();
        } catch (err) {
          subscriber.error(err);
        }
      };

      // A loop rather than recursion: a `process` that completes synchronously would otherwise
      // nest one stack frame per batch.
      const drain = () => {
        if (draining) return;
        draining = true;
        try {
          while (!busy && !subscriber.closed) {
            const batch = waiting.shift();
            if (batch === undefined) break;
            waitingCount -= batch.length;
            if (held() < pauseAt) setPaused(false);
            busy = true;
            let work: ObservableInput<R>;
            try {
              work = process(batch);
            } catch (err) {
              subscriber.error(err);
              return;
            }
            inner = from(work).subscribe({
              next: (r) => subscriber.next(r),
              error: (err) => subscriber.error(err),
              complete: () => {
                busy = false;
                inner = undefined;
                drain();
              },
            });
            if (!busy) inner = undefined;
          }
          if (sourceDone && !busy && waiting.length === 0) subscriber.complete();
        } finally {
          draining = false;
        }
      };

      subscriber.add(() => {
        acc.dispose();
        inner?.unsubscribe();
      });
      subscribeLinked(source, subscriber, {
        next: (value) => {
          try {
            acc.push(value);
          } catch (err) {
            subscriber.error(err);
            return;
          }
          const n = held();
          if (n > maxBuffered) {
            subscriber.error(
              new BufferOverflowError(name, maxBuffered, `${n} values held while a batch is processed; pause the source (pauseControl) or raise maxBufferedCount`),
            );
          } else if (n >= pauseAt) {
            setPaused(true);
          }
        },
        error: (err) => subscriber.error(err),
        complete: () => {
          sourceDone = true;
          acc.cut('complete');
          drain();
        },
      });
    });
}
