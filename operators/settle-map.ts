import { from, Observable, type ObservableInput, type OperatorFunction } from 'rxjs';
import { ensureError, InvalidConfigError, TopologyFailedError } from '../src/errors.js';
import { requireSupervision, type SupervisionMode } from '../src/settle/supervision.js';
import { markStage } from '../src/observe/lineage.js';
import { operatorCounters } from '../src/observe/operator-stats.js';
import { holdCurrent, withSettlement } from '../src/settle/settle-scope.js';
import type { Settlement } from '../src/settle/settlement.js';
import { subscribeLinked } from './internal/subscribe-linked.js';

/** Config of {@link settleMap}. */
export interface SettleMapConfig<T, R> {
  /** Names the stage in `describe` and logs. */
  name: string;
  /** The async work for one value: a Promise, an Observable, an array. */
  project: (value: T) => ObservableInput<R>;
  /** Values worked on at once; more wait in order. Integer >= 1. Default 1. */
  concurrency?: number | undefined;
  /**
   * What a `project` that throws or errors does to its value's input (see `SupervisionMode`):
   * `'resume'` (default) dead-letters it, `'retry'` redelivers it after the source's backoff
   * (dead-lettered after `maxDeliveries`; for a service that may be down), `'stop'` ends the run
   * with `TopologyFailedError` naming `settleMap:<name>`.
   */
  supervision?: SupervisionMode | undefined;
}

/**
 * The settle-aware `mergeMap`: runs `project` for each value and emits its results, keeping the
 * value's input unacknowledged until `project` is done and its results' own effects (a publish
 * downstream) are complete. Use it for any asynchronous step in a pipeline fed by a JetStream
 * stream; a bare `mergeMap`/`concatMap` over a promise emits after the input was acknowledged,
 * which makes the path at-most-once (the runtime counts and logs such values at the sink).
 *
 * - Emits: each result of `project`, as it comes (out of input order when `concurrency` > 1).
 * - Holds: at most `concurrency` values in work; values beyond wait in a queue, still
 *   unacknowledged, so a JetStream source's `maxUnsettled` bounds it.
 * - Fails: when `project` throws or its result errors, `supervision` decides: the value's input is
 *   dead-lettered (`'resume'`, the default) or redelivered after a backoff and dead-lettered after
 *   its last delivery (`'retry'`), and the stream goes on; or the run ends (`'stop'`). Without a
 *   settling input (a core subject), the error ends the stream, as `mergeMap` would, and the
 *   runtime's supervision restarts the pipeline.
 * - Guarantee: passes its input's guarantee on (at-least-once from a JetStream stream).
 *
 * ```ts
 * orders$.pipe(settleMap({ name: 'erp', concurrency: 8, project: (o) => postToErp(o.data) }))
 * ```
 * @throws InvalidConfigError at creation for a bad `concurrency`.
 */
export function settleMap<T, R>(config: SettleMapConfig<T, R>): OperatorFunction<T, R> {
  const concurrency = config.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new InvalidConfigError(`settleMap '${config.name}'`, 'concurrency', `must be an integer >= 1, got ${concurrency}`);
  if (typeof config.project !== 'function') throw new InvalidConfigError(`settleMap '${config.name}'`, 'project', 'must be a function');
  const supervision = requireSupervision(`settleMap '${config.name}'`, config.supervision);
  const part = `settleMap:${config.name}`;
  // in: values taken; out: results emitted; unsettled: values being worked on or waiting. A failed value's dead letter (under 'resume') is its source's.
  const counters = operatorCounters(`settleMap ${config.name}`);
  counters.unsettled = 0;
  counters.failures = 0;
  return (source) =>
    markStage(
      new Observable<R>((subscriber) => {
        const queue: Array<{ value: T; held: Settlement | undefined }> = [];
        const working = new Set<Settlement>();
        let active = 0;
        let completed = false;
        const finish = (): void => {
          active--;
          counters.unsettled = active + queue.length;
          const next = queue.shift();
          if (next !== undefined) run(next.value, next.held);
          else if (completed && active === 0) subscriber.complete();
        };
        const run = (value: T, held: Settlement | undefined): void => {
          active++;
          if (held !== undefined) working.add(held);
          let input: ObservableInput<R>;
          try {
            input = config.project(value);
          } catch (err) {
            return failed(held, err);
          }
          const inner = from(input).subscribe({
            next: (result) => {
              counters.out++;
              withSettlement(held, () => subscriber.next(result));
            },
            error: (err: unknown) => failed(held, err),
            complete: () => {
              if (held !== undefined) working.delete(held);
              held?.release();
              finish();
            },
          });
          subscriber.add(inner);
        };
        const failed = (held: Settlement | undefined, err: unknown): void => {
          counters.failures!++;
          const error = ensureError(err);
          if (supervision === 'stop') {
            if (held !== undefined) working.delete(held);
            held?.fail(error);
            held?.release();
            return subscriber.error(new TopologyFailedError(undefined, part, error));
          }
          if (held === undefined) return subscriber.error(err);
          working.delete(held);
          held.fail(error, supervision, part);
          held.release();
          finish();
        };
        subscriber.add(() => {
          // Unsubscribed before the work finished: the inputs were not processed, so redeliver.
          const unfinished = [...working, ...queue.splice(0).map((q) => q.held)];
          working.clear();
          for (const held of unfinished) {
            held?.fail(new Error(`settleMap '${config.name}' unsubscribed before this value was processed`));
            held?.release();
          }
        });
        subscribeLinked(source, subscriber, {
          next: (value) => {
            counters.in++;
            const held = holdCurrent();
            if (active < concurrency) run(value, held);
            else queue.push({ value, held });
            counters.unsettled = active + queue.length;
          },
          error: (err: unknown) => subscriber.error(err),
          complete: () => {
            completed = true;
            if (active === 0) subscriber.complete();
          },
        });
      }),
      source,
      { name: part, effect: 'passes' },
    );
}
