import { filter, map } from 'rxjs';
import type { BatchTrigger } from './batch-until.js';
import { requireInt } from './internal/validate-config.js';

/** Config for {@link onCount}. */
export interface OnCountConfig {
  /** Reason on the flushed batch. Default `'count'`. */
  reason?: string | undefined;
}

/**
 * A `batchUntil` trigger that fires when the open batch holds `count` values (right after the
 * value that reaches it is appended).
 *
 * ```ts
 * batchUntil(onCount(10_000), { name: 'exports' })
 * ```
 * @throws InvalidConfigError when `count` is not an integer >= 1.
 */
export function onCount(count: number, config: OnCountConfig = {}): BatchTrigger {
  const n = requireInt('onCount', 'count', count, 1);
  const reason = config.reason ?? 'count';
  return (ctx) =>
    ctx.appended.pipe(
      filter((size) => size >= n),
      map(() => reason),
    );
}
