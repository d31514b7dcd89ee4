import { Observable, type SchedulerLike, type Subscription } from 'rxjs';
import type { BatchTrigger } from './batch-until.js';
import { nextFireAfter, parseCron } from './internal/batch-cron.js';

/** Config for {@link onSchedule}. */
export interface OnScheduleConfig {
  /** IANA time zone the pattern is read in, e.g. `'Europe/London'`. Default: the process's local zone. */
  tz?: string | undefined;
  /** Reason on the flushed batch. Default `'schedule'`. */
  reason?: string | undefined;
  /** Overrides the scheduler `batchUntil` hands to its triggers. */
  scheduler?: SchedulerLike | undefined;
}

// setTimeout (under asyncScheduler) fires at once for delays past 2^31-1 ms (~24.8 days); longer
// waits are taken in steps, re-computing the fire time after each.
const MAX_DELAY_MS = 2_147_483_647;

/**
 * A `batchUntil` trigger that fires on a cron schedule (5–7 field croner patterns, e.g.
 * `'0 2 * * *'` = 02:00 daily), in `tz`. Croner only computes the next fire time from
 * `scheduler.now()`; the wait is an RxJS scheduled action, so it runs in virtual time under
 * `TestScheduler`. A fire time missed while the process was down is not replayed.
 *
 * ```ts
 * batchUntil(onSchedule('0 2 * * *', { tz: 'Europe/London' }), { name: 'nightly' })
 * ```
 * @throws InvalidConfigError at creation for an invalid pattern or time zone.
 */
export function onSchedule(cron: string, config: OnScheduleConfig = {}): BatchTrigger {
  const parsed = parseCron('onSchedule', cron, config.tz);
  const reason = config.reason ?? 'schedule';
  return (ctx) =>
    new Observable<string>((subscriber) => {
      const scheduler = config.scheduler ?? ctx.scheduler;
      let wait: Subscription | undefined;
      const arm = (): void => {
        const now = scheduler.now();
        const at = nextFireAfter(parsed, now);
        if (at === undefined) {
          subscriber.complete();
          return;
        }
        wait = scheduler.schedule(() => {
          // A timer may wake a little early (or a step of a long wait ends): fire only when due.
          if (scheduler.now() >= at) subscriber.next(reason);
          if (!subscriber.closed) arm();
        }, Math.min(Math.max(0, at - now), MAX_DELAY_MS));
      };
      arm();
      return () => wait?.unsubscribe();
    });
}
