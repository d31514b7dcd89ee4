import { map, switchMap, takeUntil, timer, type SchedulerLike } from 'rxjs';
import type { BatchTrigger } from './batch-until.js';
import { requireNumber } from './internal/validate-config.js';

/** Config for {@link onIdle}. */
export interface OnIdleConfig {
  /** Reason on the flushed batch. Default `'idle'`. */
  reason?: string | undefined;
  /** Overrides the scheduler `batchUntil` hands to its triggers. */
  scheduler?: SchedulerLike | undefined;
}

/**
 * A `batchUntil` trigger that fires when no value has arrived for `idleMs` and the open batch is
 * not empty (the timer restarts on every value and stops at every flush).
 *
 * ```ts
 * batchUntil(anyOf(onCount(1_000), onIdle(30_000)), { name: 'uploads' })
 * ```
 * @throws InvalidConfigError when `idleMs` is negative or not a number.
 */
export function onIdle(idleMs: number, config: OnIdleConfig = {}): BatchTrigger {
  const ms = requireNumber('onIdle', 'idleMs', idleMs, 0);
  const reason = config.reason ?? 'idle';
  return (ctx) =>
    ctx.appended.pipe(
      switchMap(() => timer(ms, config.scheduler ?? ctx.scheduler).pipe(takeUntil(ctx.flushed))),
      map(() => reason),
    );
}
