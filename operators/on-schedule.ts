import { NEVER, Observable, type SchedulerLike } from 'rxjs';
import { InvalidConfigError } from '../src/errors.js';
import type { BatchTrigger } from './batch-until.js';
import { parseTiming, runSchedule, type ScheduleTiming } from './internal/schedule-runner.js';

/** Config for {@link onSchedule}. */
export interface OnScheduleConfig extends ScheduleTiming {
  /** Reason on the flushed batch. Default `'schedule'`. */
  reason?: string | undefined;
  /** Overrides the scheduler `batchUntil` hands to its triggers. */
  scheduler?: SchedulerLike | undefined;
}

/**
 * A `batchUntil` trigger that fires on a calendar: a cron pattern (5–7 field croner patterns,
 * e.g. `'0 2 * * *'` = 02:00 daily) read in `tz`, DST-correct as {@link schedule} describes.
 * Croner only computes the next fire time from `scheduler.now()`; the wait is an RxJS scheduled
 * action, so it runs in virtual time under `TestScheduler` or `ManualClock`.
 *
 * - Overlap: a run is "running" while a batch it flushed (or any earlier one) has not settled.
 *   `'skip'` (default) skips a fire then, `'queue'` flushes once the running batches have
 *   settled. `'cancel'` is refused: a batch's processing cannot be taken back.
 * - Catch-up (needs `state`, e.g. `scheduleStateIn(store, 'nightly')` in the store that holds the
 *   batch): the runs missed while the process was down are flushed once the operator starts —
 *   `'once'` one flush for all of them, `'all'` a flush each (all but the first usually empty:
 *   only the first finds values; with `emitEmpty` each one is a batch). `'skip'` (default) forgets them.
 * - Guarantee: the state records a fire time right after its flush has sealed the batch (an
 *   `lmdbBatchBuffer` seal is committed by then), in the same synchronous step, so a restart
 *   neither flushes it again nor misses it; a crash between the two commits repeats that one
 *   flush at the next start (over what has arrived since: nothing is lost or doubled).
 *
 * ```ts
 * batchUntil(onSchedule('0 2 * * *', { tz: 'Europe/London', catchUp: 'once', state: scheduleStateIn(store, 'nightly') }), { name: 'nightly', buffer })
 * ```
 * @throws InvalidConfigError at creation for an invalid pattern, time zone or policy.
 */
export function onSchedule(cron: string, config: OnScheduleConfig = {}): BatchTrigger {
  const timing = parseTiming('onSchedule', cron, config);
  if (timing.overlap === 'cancel')
    throw new InvalidConfigError(
      'onSchedule',
      'overlap',
      "cannot be 'cancel' for a batch trigger: a flushed batch cannot be taken back; use 'skip' or 'queue'",
    );
  const reason = config.reason ?? 'schedule';
  return (ctx) =>
    new Observable<string>((subscriber) =>
      runSchedule(reason, timing, {
        scheduler: config.scheduler ?? ctx.scheduler,
        busy: () => (ctx.unsettled?.() ?? 0) > 0,
        idle: ctx.settled ?? NEVER,
        cancel: () => undefined,
        complete: () => subscriber.complete(),
        run: (_fire, done) => {
          subscriber.next(reason);
          done(true);
        },
      }),
    );
}
