import { asyncScheduler, Observable, Subject, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import { BufferOverflowError, ensureError, InvalidConfigError } from '../src/errors.js';
import { reportBatch } from '../src/observe/batch-observer.js';
import { markStage } from '../src/observe/lineage.js';
import { operatorCounters } from '../src/observe/operator-stats.js';
import { InterruptedError } from '../src/settle/interrupted-error.js';
import { currentSettlement, holdCurrent } from '../src/settle/settle-scope.js';
import { Settlement } from '../src/settle/settlement.js';
import { memoryBatchBuffer, type BatchBuffer, type SealedSegment } from '../src/state/batch-buffer.js';
import { makeBatch, type Batch, type BatchReason } from './internal/batch-make.js';
import { subscribeLinked } from './internal/subscribe-linked.js';
import { optionalInt, requireFunction, requireInt, requireName } from './internal/validate-config.js';
import { settlingUpstream } from './internal/settling-upstream.js';

export type { Batch, BatchReason } from './internal/batch-make.js';

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
  /** Batches emitted and not yet settled (a schedule's overlap policy reads it). */
  readonly unsettled?: (() => number) | undefined;
  /** Notifies after each batch settles. */
  readonly settled?: Observable<void> | undefined;
}

/** A flush condition: emits a reason (e.g. `'schedule'`) each time the open batch should be flushed. */
export type BatchTrigger<T = unknown> = (context: TriggerContext<T>) => Observable<string>;

/** Config for {@link batchUntil}. */
export interface BatchUntilConfig<T> {
  /** Stable name: the batch id prefix and, for durable buffers, the store name. */
  name: string;
  /**
   * Where values wait. Default: a fresh {@link memoryBatchBuffer} per subscription, which keeps
   * every input unacknowledged until its batch is processed; the durable `lmdbBatchBuffer` and
   * `fileBatchBuffer` (append-only files: large batches in little memory) acknowledge each input
   * once its value is stored.
   */
  buffer?: BatchBuffer<T> | undefined;
  /**
   * Flush with reason `'max-items'` when the open batch holds this many values, whatever the
   * trigger. Default with a memory buffer: 1000000, or — fed by a JetStream stream — that
   * stream's `maxUnsettled` (a larger memory batch could never fill: the stream stops delivering
   * at that many held messages; a larger value is refused when the topology is built). No
   * default limit with a durable buffer.
   */
  maxItems?: number | undefined;
  /**
   * Batches emitted but not yet settled at most; one more flush errors the output with
   * `BufferOverflowError` (the downstream is not keeping up or forgets `release()`). Default 16.
   */
  maxUnreleasedBatches?: number | undefined;
  /** Emit a batch with no values when the trigger fires on an empty buffer. Default false. */
  emitEmpty?: boolean | undefined;
  /** Scheduler handed to triggers (schedule, idle), and for a durable buffer's commits. Default `asyncScheduler`. */
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
 *   emitted batch until it settles (bounded by `maxItems` and `maxUnreleasedBatches`).
 * - Guarantee (at-least-once from a JetStream stream), by buffer:
 *   - memory: each input is held unacknowledged until the batch it belongs to has settled:
 *     released after processing, and every effect done in the batch's name complete. A failed
 *     batch fails every member (redelivered, dead-lettered after the stream's `maxDeliveries`).
 *     The batch must fit under the stream's `maxUnsettled`: see `maxItems`.
 *   - durable (`lmdbBatchBuffer`, `fileBatchBuffer`): each input is acknowledged once its value
 *     is committed — to LMDB, or written and fdatasynced to the batch's file (the values of one
 *     event-loop turn share a commit, at most 1000 per commit, with or without a settlement);
 *     from then on the batch belongs to
 *     the buffer, which survives a crash and re-emits unsettled batches on the next start. A
 *     value stored but not yet acknowledged when the process dies is stored again on
 *     redelivery, so a batch may hold it twice.
 * - Fails: source, trigger and buffer errors error the output without flushing; the open batch's
 *   inputs are redelivered (memory) or stay stored (durable); an input whose value could not be
 *   stored is failed (redelivered).
 *
 * ```ts
 * prefs$.pipe(
 *   batchUntil(anyOf(onSubject(endOfDay$), onSchedule('0 2 * * *', { tz: 'Europe/London' })), { name: 'prefs' }),
 *   concatMap((batch) => batch.processChunks(1_000, syncPreferences).pipe(finalize(() => batch.release()))),
 * )
 * ```
 * @throws InvalidConfigError at creation for a bad option; when applied, for a memory buffer
 * whose `maxItems` is above the `maxUnsettled` of the stream feeding it.
 */
export function batchUntil<T>(trigger: BatchTrigger<NoInfer<T>>, config: BatchUntilConfig<T>): OperatorFunction<T, Batch<T>> {
  const component = 'batchUntil';
  requireFunction(component, 'trigger', trigger);
  const name = requireName(component, 'name', config.name);
  const configuredMaxItems = optionalInt(component, 'maxItems', config.maxItems, 1);
  const maxUnreleased = requireInt(component, 'maxUnreleasedBatches', config.maxUnreleasedBatches ?? 16, 1);
  const emitEmpty = config.emitEmpty ?? false;
  const scheduler = config.scheduler ?? asyncScheduler;
  const durable = config.buffer?.durable === true;
  const counters = operatorCounters(`batchUntil ${name}`);

  return (source) => {
    const maxItems = resolveMaxItems(component, name, configuredMaxItems, config.buffer, source);
    const output = new Observable<Batch<T>>((subscriber) => {
      const buffer = config.buffer ?? memoryBatchBuffer<T>();
      const arriving = new Subject<T>();
      const appended = new Subject<number>();
      const flushed = new Subject<void>();
      const settled = new Subject<void>();
      let unsettled = 0;
      // Memory buffer: the held inputs of the open batch. Durable buffer: values received and
      // not yet committed, with their held inputs (acknowledged after the commit).
      let members: Settlement[] = [];
      let pending: { value: T; held: Settlement | undefined }[] = [];
      let commitTimer: Subscription | undefined;

      const count = (): number => buffer.count() + pending.length;

      const commit = (): void => {
        commitTimer?.unsubscribe();
        commitTimer = undefined;
        if (pending.length === 0) return;
        const stored = pending;
        pending = [];
        try {
          if (buffer.appendAll !== undefined) buffer.appendAll(stored.map((p) => p.value));
          else for (const p of stored) buffer.append(p.value);
        } catch (err) {
          for (const p of stored) {
            p.held?.fail(ensureError(err));
            p.held?.release();
          }
          throw err;
        }
        for (const p of stored) p.held?.release();
      };

      const settlementOf = (segment: SealedSegment<T>, held: readonly Settlement[]): Settlement =>
        new Settlement(`batch:${name}:${segment.seq}`, durable, (failure) => {
          unsettled--;
          try {
            // A failed durable batch stays stored: it is emitted again on the next start.
            if (!durable || failure === undefined) segment.release();
          } catch (err) {
            if (!subscriber.closed) subscriber.error(err);
          }
          for (const m of held) {
            if (failure !== undefined) m.fail(failure);
            m.release();
          }
          if (!subscriber.closed) settled.next();
        });

      const flush = (reason: BatchReason): void => {
        if (subscriber.closed) return;
        commit();
        if (buffer.count() === 0 && !emitEmpty) return;
        const unreleased = buffer.unreleased().length;
        if (unreleased >= maxUnreleased) {
          subscriber.error(
            new BufferOverflowError(
              component,
              maxUnreleased,
              `'${name}' has ${unreleased} batches not released; call batch.release() after processing each batch`,
            ),
          );
          return;
        }
        const segment = buffer.seal();
        counters.out += segment.count;
        counters.batch(segment.count);
        // The members' holds pass to the batch: they are released when it settles.
        const held = members;
        members = [];
        flushed.next();
        unsettled++;
        reportBatch('batchUntil', name, segment.count);
        subscriber.next(makeBatch(name, reason, segment, settlementOf(segment, held)));
      };

      for (const segment of buffer.unreleased()) {
        unsettled++;
        subscriber.next(makeBatch(name, 'recovered', segment, settlementOf(segment, [])));
        if (subscriber.closed) return;
      }

      const triggerSub = trigger({ arriving, appended, flushed, scheduler, unsettled: () => unsettled, settled }).subscribe({
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
        settled.complete();
        // Received values are stored rather than redelivered; if that fails, commit failed them.
        try {
          commit();
        } catch {
          // already failed and released
        }
        // The open memory batch was never processed: its inputs are delivered again.
        for (const m of members.splice(0)) {
          m.fail(new InterruptedError(component, `'${name}' stopped before the batch holding this input was flushed`));
          m.release();
        }
      });
      subscribeLinked(source, subscriber, {
        next: (value) => {
          counters.in++;
          let held: Settlement | undefined;
          try {
            // Most triggers watch neither: skip the Subject fan-out per value when nobody listens.
            if (arriving.observed) {
              arriving.next(value);
              if (subscriber.closed) return;
            }
            held = holdCurrent();
            if (durable) {
              pending.push({ value, held });
              held = undefined;
              // One commit serves every value of this event-loop turn, settled or not (a value
              // without a settlement — core NATS — is no safer committed alone: a crash before
              // the commit loses it either way, as it would lose it in the client's buffer), and
              // at most MAX_PENDING_VALUES wait for it.
              if (pending.length >= MAX_PENDING_VALUES) commit();
              else commitTimer ??= scheduler.schedule(commitLater);
            } else {
              buffer.append(value);
              if (held !== undefined) members.push(held);
              held = undefined;
            }
            if (appended.observed) appended.next(count());
            if (maxItems !== undefined && count() >= maxItems) flush('max-items');
          } catch (err) {
            // The value may not be in the buffer: fail its input so it is delivered again.
            currentSettlement()?.fail(ensureError(err));
            held?.release();
            subscriber.error(err);
          }
        },
        error: (err) => subscriber.error(err),
        complete: () => {
          try {
            if (count() > 0) flush('complete');
            subscriber.complete();
          } catch (err) {
            subscriber.error(err);
          }
        },
      });

      function commitLater(): void {
        commitTimer = undefined;
        try {
          commit();
        } catch (err) {
          subscriber.error(err);
        }
      }
    });
    // Not `recorded` even with a durable buffer: the grouping is stored, but a value stored and
    // not yet acknowledged at a crash is stored again on redelivery, so a replay is not the same.
    return markStage(output, source, { name: `batchUntil:${name}`, effect: 'groups' });
  };
}

/**
 * Values a durable buffer's commit waits for at most: a burst larger than this within one
 * event-loop turn is committed in parts, so what waits in memory stays bounded.
 */
const MAX_PENDING_VALUES = 1000;

/** `maxItems` once the operator knows what feeds it: a memory batch must fit under the stream's bound. */
function resolveMaxItems(
  component: string,
  name: string,
  configured: number | undefined,
  buffer: BatchBuffer<unknown> | undefined,
  source: Observable<unknown>,
): number | undefined {
  const fallback = configured ?? (buffer === undefined ? 1_000_000 : undefined);
  if (buffer?.durable === true) return fallback;
  const limit = settlingUpstream(source).tightest;
  if (limit === undefined) return fallback;
  if (configured !== undefined && configured > limit.maxUnsettled) {
    throw new InvalidConfigError(
      `${component} '${name}'`,
      'maxItems',
      `is ${configured}, above the maxUnsettled (${limit.maxUnsettled}) of stream '${limit.name}' that feeds it: a memory batch holds its inputs unacknowledged, so the stream would stop delivering before the batch could fill. Raise the stream's maxUnsettled, lower maxItems, or use lmdbBatchBuffer`,
    );
  }
  return Math.min(fallback ?? limit.maxUnsettled, limit.maxUnsettled);
}
