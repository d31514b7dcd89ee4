import { asyncScheduler, Observable, Subject, type OperatorFunction, type SchedulerLike, type ObservableInput } from 'rxjs';
import { BufferOverflowError } from '../src/errors.js';
import { memoryBatchBuffer, type BatchBuffer } from './batch-buffer.js';
import { makeBatch } from './internal/batch-make.js';
import { subscribeLinked } from './internal/batch-subscribe-linked.js';
import { optionalInt, requireFunction, requireInt, requireName } from './internal/batch-validate.js';

/**
 * What a trigger sees of the batch it controls. Triggers are functions of this context so that
 * count, idle and watermark triggers can react to the buffer, while subject and schedule triggers
 * ignore it.
 */
export interface TriggerContext<T> {
  /** Each value BEFORE it is appended: a trigger that fires synchronously here flushes without it. */
  readonly arriving: Observable<T>;
  /** The open batch's size after each append. */
  readonly appended: Observable<number>;
  /** Notifies after each flush. */
  readonly flushed: Observable<void>;
  /** The operator's scheduler, for triggers that wait. */
  readonly scheduler: SchedulerLike;
}

/** A flush condition: emits a reason (e.g. `'schedule'`) each time the open batch should be flushed. */
export type BatchTrigger<T = unknown> = (context: TriggerContext<T>) => Observable<string>;

/** Why a batch was flushed: a trigger's reason, or one of the operator's own. */
export type BatchReason = string;

/**
 * One flushed batch. Its contents stay in the buffer and are read in chunks, so a batch of
 * millions of values is never one array. Call `release()` once it is processed.
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
   * at most one chunk is in memory; emits what `work` emits. Errors with what `work` errors with.
   */
  processChunks<R>(size: number, work: (chunk: readonly T[], index: number) => ObservableInput<R>): Observable<R>;
  /** All values as one array, for small batches. @throws BufferOverflowError above `maxCount` (default 10000). */
  items(maxCount?: number): readonly T[];
  /** Frees the contents (deletes them from a durable buffer). Idempotent. */
  release(): void;
}

/** Config for {@link batchUntil}. */
export interface BatchUntilConfig<T> {
  /** Stable name: the batch id prefix and, for durable buffers, the store name. */
  name: string;
  /** Where values wait. Default: a fresh {@link memoryBatchBuffer} per subscription. */
  buffer?: BatchBuffer<T> | undefined;
  /**
   * Flush with reason `'max-items'` when the open batch holds this many values, whatever the
   * trigger. Default 1000000 with the in-memory buffer, no limit with a given buffer.
   */
  maxItems?: number | undefined;
  /**
   * Batches emitted but not yet released at most; one more flush errors the output with
   * `BufferOverflowError` (the downstream is not keeping up or forgets `release()`). Default 16.
   */
  maxUnreleasedBatches?: number | undefined;
  /** Emit a batch with no values when the trigger fires on an empty buffer. Default false. */
  emitEmpty?: boolean | undefined;
  /** Scheduler handed to triggers (schedule, idle). Default `asyncScheduler`. */
  scheduler?: SchedulerLike | undefined;
}

/**
 * Accumulates values and flushes them as one {@link Batch} whenever `trigger` fires
 * (`onSubject`, `onSchedule`, `onCount`, `onIdle`, `onWatermark`, combined with `anyOf`).
 *
 * - Emits: on subscribe, batches sealed but not released before (reason `'recovered'`); then a
 *   batch per trigger firing (none for an empty buffer unless `emitEmpty`); a batch when the open
 *   one reaches `maxItems`; the remainder on completion (reason `'complete'`).
 * - Holds: whatever the buffer holds — for the in-memory buffer, the open batch plus every
 *   emitted batch until released (bounded by `maxItems` and `maxUnreleasedBatches`).
 * - Fails: source, trigger and buffer errors error the output without flushing; the open batch
 *   stays in a durable buffer (an in-memory one is lost; the source must redeliver).
 *
 * ```ts
 * prefs$.pipe(
 *   batchUntil(anyOf(onSubject(endOfDay$), onSchedule('0 2 * * *', { tz: 'Europe/London' })), { name: 'prefs' }),
 *   concatMap((batch) => batch.processChunks(1_000, syncPreferences).pipe(finalize(() => batch.release()))),
 * )
 * ```
 * @throws InvalidConfigError at creation for a bad option.
 */
export function batchUntil<T>(trigger: BatchTrigger<NoInfer<T>>, config: BatchUntilConfig<T>): OperatorFunction<T, Batch<T>> {
  const component = 'batchUntil';
  requireFunction(component, 'trigger', trigger);
  const name = requireName(component, 'name', config.name);
  const maxItems = optionalInt(component, 'maxItems', config.maxItems, 1) ?? (config.buffer === undefined ? 1_000_000 : undefined);
  const maxUnreleased = requireInt(component, 'maxUnreleasedBatches', config.maxUnreleasedBatches ?? 16, 1);
  const emitEmpty = config.emitEmpty ?? false;
  const scheduler = config.scheduler ?? asyncScheduler;

  return (source) =>
    new Observable<Batch<T>>((subscriber) => {
      const buffer = config.buffer ?? memoryBatchBuffer<T>();
      const arriving = new Subject<T>();
      const appended = new Subject<number>();
      const flushed = new Subject<void>();

      const flush = (reason: BatchReason): void => {
        if (subscriber.closed || (buffer.count() === 0 && !emitEmpty)) return;
        const pending = buffer.unreleased().length;
        if (pending >= maxUnreleased) {
          subscriber.error(
            new BufferOverflowError(component, maxUnreleased, `'${name}' has ${pending} batches not released; call batch.release() after processing each batch`),
          );
          return;
        }
        const segment = buffer.seal();
        flushed.next();
        subscriber.next(makeBatch(name, reason, segment));
      };

      for (const segment of buffer.unreleased()) {
        subscriber.next(makeBatch(name, 'recovered', segment));
        if (subscriber.closed) return;
      }

      const triggerSub = trigger({ arriving, appended, flushed, scheduler }).subscribe({
        next: (reason) => {
          try {
            flush(reason);
          } catch (err) {
            subscriber.error(err);
          }
        },
        error: (err) => subscriber.error(err),
      });
      subscriber.add(triggerSub);
      if (subscriber.closed) return;

      subscriber.add(() => {
        arriving.complete();
        appended.complete();
        flushed.complete();
      });
      subscribeLinked(source, subscriber, {
        next: (value) => {
          try {
            // Most triggers watch neither: skip the Subject fan-out per value when nobody listens.
            if (arriving.observed) {
              arriving.next(value);
              if (subscriber.closed) return;
            }
            buffer.append(value);
            if (appended.observed) appended.next(buffer.count());
            if (maxItems !== undefined && buffer.count() >= maxItems) flush('max-items');
          } catch (err) {
            subscriber.error(err);
          }
        },
        error: (err) => subscriber.error(err),
        complete: () => {
          try {
            if (buffer.count() > 0) flush('complete');
            subscriber.complete();
          } catch (err) {
            subscriber.error(err);
          }
        },
      });
    });
}
