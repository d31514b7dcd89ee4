import { merge } from 'rxjs';
import { InvalidConfigError } from '../src/errors.js';
import type { BatchTrigger } from './batch-until.js';

/**
 * A `batchUntil` trigger that fires whenever any of `triggers` fires, with that trigger's reason.
 *
 * ```ts
 * batchUntil(anyOf(onSubject(endOfDay$), onSchedule('0 2 * * *', { tz: 'Europe/London' })), { name: 'prefs' })
 * ```
 * @throws InvalidConfigError when no trigger is given.
 */
export function anyOf<T>(...triggers: BatchTrigger<T>[]): BatchTrigger<T> {
  if (triggers.length === 0) throw new InvalidConfigError('anyOf', 'triggers', 'must name at least one trigger, got none');
  triggers.forEach((t, i) => {
    if (typeof t !== 'function') throw new InvalidConfigError('anyOf', `triggers[${i}]`, `must be a trigger function, got ${typeof t}`);
  });
  return (ctx) => merge(...triggers.map((t) => t(ctx)));
}
