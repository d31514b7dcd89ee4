import { map, type Observable } from 'rxjs';
import type { BatchTrigger } from './batch-until.js';
import { requireFunction } from './internal/validate-config.js';

/** Config for {@link onSubject}. */
export interface OnSubjectConfig {
  /** Reason on the flushed batch. Default: the subject of the event that fired it. */
  reason?: string | undefined;
}

/**
 * A `batchUntil` trigger that fires on every event of `events$` — an "end-of-day" message
 * (any envelope) or a "file received" event of `fileDrop`. The subscription is passed in (e.g. `transport.subscribe('ops.end-of-day')`),
 * so it is opened when the batch operator is subscribed and closed with it. An error of
 * `events$` errors the batch operator.
 *
 * ```ts
 * batchUntil(onSubject(transport.subscribe('ops.end-of-day')), { name: 'prefs' })
 * ```
 * @throws InvalidConfigError when `events$` is not an Observable.
 */
export function onSubject(events$: Observable<{ readonly subject: string }>, config: OnSubjectConfig = {}): BatchTrigger {
  requireFunction('onSubject', 'events$', (events$ as { subscribe?: unknown } | undefined)?.subscribe);
  return () => events$.pipe(map((env) => config.reason ?? env.subject));
}
