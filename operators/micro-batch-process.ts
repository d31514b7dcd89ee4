import { from, Observable, type ObservableInput, type OperatorFunction, type Subscription } from 'rxjs';
import { BufferOverflowError, ensureError, InvalidConfigError, TopologyFailedError } from '../src/errors.js';
import { reportBatch } from '../src/observe/batch-observer.js';
import { requireSupervision, type SupervisionMode } from '../src/settle/supervision.js';
import { markStage } from '../src/observe/lineage.js';
import { withSettlement } from '../src/settle/settle-scope.js';
import type { Settlement } from '../src/settle/settlement.js';
import { BatchGrouper, type HeldBatch } from './internal/batch-grouper.js';
import { validateBatchGroups } from './internal/batch-groups.js';
import { validateBatchLimits } from './internal/batch-limits.js';
import { subscribeLinked } from './internal/subscribe-linked.js';
import { optionalInt, requireFunction, requireInt } from './internal/validate-config.js';
import type { MicroBatchConfig } from './micro-batch.js';

/** A source that can be told to stop and restart delivery (e.g. a pull consumer that stops fetching). */
export interface PauseControl {
  pause(): void;
  resume(): void;
}

/** What `process` is told about the batch it works on. */
export interface BatchInfo {
  /**
   * The batch's settlement key: with `groups`, the recorded group's key (stable across replays);
   * otherwise derived from the first input, or undefined when no input has a settlement.
   */
  readonly key: string | undefined;
  /** Whether `key` names the same inputs on every replay (the grouping is recorded). */
  readonly recorded: boolean;
}

/** Config for {@link microBatchProcess}: the micro-batch limits plus the work and its bounds. */
export interface MicroBatchProcessConfig<T, R> extends MicroBatchConfig<T> {
  /**
   * The work for one batch (publish, write, commit). Batches run one at a time, in order. `info.key`
   * names the batch: with `groups` it is the recorded group's key, the same on every replay, so
   * the work can be made idempotent with it (e.g. a file named after it).
   */
  process: (batch: T[], info: BatchInfo) => ObservableInput<R>;
  /**
   * Most values held while a batch is being processed, counting only values that came WITHOUT a
   * settling input (a core subject, a plain Observable): the batch being formed plus batches
   * waiting their turn. Going past it errors the output with `BufferOverflowError`. Values from a
   * JetStream stream never overflow: each keeps its message unsettled, so the source's
   * `maxUnsettled` bounds them (the broker stops delivering). Integer >= `maxCount`.
   */
  maxBufferedCount: number;
  /**
   * Tells a pausable source to stop when `pauseAtCount` values are held, and to resume when
   * fewer are. Without it, a source without settlements that is faster than `process` for long
   * enough overflows (a JetStream stream needs none: its `maxUnsettled` holds it back).
   */
  pauseControl?: PauseControl | undefined;
  /**
   * Held values at which `pauseControl.pause()` is called. Leave room below `maxBufferedCount`
   * for what the source still delivers after pausing (a pull consumer's outstanding fetch).
   * Default `floor(maxBufferedCount / 2)`, at least 1.
   */
  pauseAtCount?: number | undefined;
  /**
   * What a `process` that throws or errors does to the inputs of its batch (see
   * `SupervisionMode`): `'resume'` (default) dead-letters each of them (the batch failed as a
   * whole: Sluice cannot tell which value was bad), `'retry'` redelivers them after the source's
   * backoff (dead-lettered after `maxDeliveries`), `'stop'` ends the run with `TopologyFailedError`.
   */
  supervision?: SupervisionMode | undefined;
}

/**
 * Micro-batches values exactly like `microBatch` and runs `process` for each batch, one batch at a
 * time and in order, emitting what `process` emits. While a batch is in progress, new values keep
 * being batched and complete batches wait their turn.
 *
 * - Emits: the values of each `process` call, batch after batch in input order, inside the
 *   batch's settlement (a durable sink downstream holds it until its publish is acknowledged).
 * - Holds: the batch in progress and the batches waiting. Over a JetStream source, every value's
 *   input stays unsettled until `process` for its batch completed and the results' downstream
 *   effects are complete, so the source's `maxUnsettled` bounds what is held and a restart over
 *   any backlog cannot overflow. Values without a settling input count against
 *   `maxBufferedCount` (plus `pauseControl` to pause such a source before the bound).
 * - Completes: after the source completes and every batch, including the remainder, is processed.
 * - Fails: when `process` throws or errors for a batch whose every value has a settling input,
 *   `supervision` decides: those inputs are dead-lettered (`'resume'`, the default) or redelivered
 *   after a backoff and dead-lettered after their last delivery (`'retry'`), and the stream goes
 *   on; or the run ends (`'stop'`). Without settling inputs the error ends the output. A source error is
 *   forwarded at once; on it and on unsubscribe, batches not yet processed fail their inputs.
 *   Too many values without a settling input → `BufferOverflowError`.
 * - Guarantee: at-least-once from a JetStream stream. With `groups`, batches are recorded and
 *   replayed as they were (`info.key` stable): `process` can make its work idempotent with the
 *   key, and into a durable sink the path is exactly-once within the duplicate window.
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
  const groups = validateBatchGroups(name, config.groups);
  const process = requireFunction(name, 'process', config.process);
  const supervision = requireSupervision(name, config.supervision);
  const part = config.groups?.name !== undefined ? `${name}:${config.groups.name}` : name;
  const maxBuffered = requireInt(name, 'maxBufferedCount', config.maxBufferedCount, limits.maxCount);
  const pauseAt = optionalInt(name, 'pauseAtCount', config.pauseAtCount, 1) ?? Math.max(1, Math.floor(maxBuffered / 2));
  if (pauseAt > maxBuffered) {
    throw new InvalidConfigError(name, 'pauseAtCount', `must be <= maxBufferedCount (${maxBuffered}), got ${pauseAt}`);
  }
  const control = config.pauseControl;

  return (source) =>
    markStage(
      new Observable<R>((subscriber) => {
        const waiting: HeldBatch<T>[] = [];
        let waitingCount = 0;
        let waitingUnheld = 0;
        let current: Settlement | undefined;
        let busy = false;
        let draining = false;
        let sourceDone = false;
        let paused = false;
        let inner: Subscription | undefined;

        const held = () => waitingCount + grouper.count;

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

        // The batch's work failed: redeliver its inputs when all have a settlement and go on;
        // otherwise (nothing would redeliver them) end the output.
        const failed = (batch: HeldBatch<T>, err: unknown): boolean => {
          if (supervision === 'stop') {
            const error = ensureError(err);
            batch.settlement?.fail(error);
            batch.settlement?.release();
            subscriber.error(new TopologyFailedError(undefined, part, error));
            return false;
          }
          if (!batch.allHeld || batch.settlement === undefined) {
            subscriber.error(err);
            return false;
          }
          current = undefined;
          batch.settlement.fail(ensureError(err), supervision, part);
          batch.settlement.release();
          busy = false;
          inner = undefined;
          return true;
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
              waitingCount -= batch.values.length;
              waitingUnheld -= batch.unheld;
              if (held() < pauseAt) setPaused(false);
              busy = true;
              const s = batch.settlement;
              current = s;
              const info: BatchInfo = { key: s?.key, recorded: s?.replayStable === true && groups !== undefined };
              let work: ObservableInput<R>;
              try {
                work = withSettlement(s, () => process(batch.values, info));
              } catch (err) {
                if (failed(batch, err)) continue;
                return;
              }
              inner = withSettlement(s, () =>
                from(work).subscribe({
                  next: (r) => withSettlement(s, () => subscriber.next(r)),
                  error: (err) => {
                    if (failed(batch, err)) drain();
                  },
                  complete: () => {
                    current = undefined;
                    busy = false;
                    inner = undefined;
                    s?.release();
                    drain();
                  },
                }),
              );
              if (!busy) inner = undefined;
            }
            if (sourceDone && !busy && waiting.length === 0) subscriber.complete();
          } finally {
            draining = false;
          }
        };

        const grouper = new BatchGrouper<T>(
          limits,
          groups?.open(limits.scheduler),
          groups?.replayWaitMs ?? 0,
          (batch) => {
            reportBatch(name, config.groups?.name ?? '', batch.values.length);
            waiting.push(batch);
            waitingCount += batch.values.length;
            waitingUnheld += batch.unheld;
            drain();
          },
          (err) => subscriber.error(err),
        );

        subscriber.add(() => {
          const reason = new Error('microBatchProcess unsubscribed (or failed) before this batch was processed');
          grouper.dispose(reason);
          inner?.unsubscribe();
          for (const s of [current, ...waiting.splice(0).map((b) => b.settlement)]) {
            s?.fail(reason);
            s?.release();
          }
          current = undefined;
        });
        subscribeLinked(source, subscriber, {
          next: (value) => {
            if (!grouper.next(value)) return;
            const unheld = waitingUnheld + grouper.unheldCount;
            if (unheld > maxBuffered) {
              subscriber.error(
                new BufferOverflowError(
                  name,
                  maxBuffered,
                  `${unheld} values without a settling input held while a batch is processed; pause the source (pauseControl) or raise maxBufferedCount`,
                ),
              );
            } else if (held() >= pauseAt) {
              setPaused(true);
            }
          },
          error: (err) => subscriber.error(err),
          complete: () =>
            grouper.finish(() => {
              sourceDone = true;
              drain();
            }),
        });
      }),
      source,
      { name: 'microBatchProcess', effect: 'groups', recorded: groups !== undefined },
    );
}
