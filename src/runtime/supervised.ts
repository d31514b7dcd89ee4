import type { Observable } from 'rxjs';
import { requireSupervision, type SupervisionMode } from '../settle/supervision.js';

const policies = new WeakMap<Observable<unknown>, SupervisionMode>();

/**
 * Sets the supervision of one pipeline the builder returns (or hands to `ctx`), over the
 * topology's: what the runtime does when a plain RxJS stage of it throws on a message. See
 * {@link SupervisionMode}. Returns the same Observable.
 *
 * ```ts
 * defineTopology('ledger', (t) => [
 *   supervised(t.stream('PAY', 'pay.>').pipe(map(post), t.sink('ledger.posted')), 'stop'),
 *   t.stream('AUDIT', 'audit.>').pipe(map(summarise), t.sink('audit.summary')), // the default, 'resume'
 * ]);
 * ```
 * @throws InvalidConfigError for a value other than 'resume', 'retry' or 'stop'.
 */
export function supervised<T extends Observable<unknown>>(pipeline: T, supervision: SupervisionMode): T {
  policies.set(pipeline, requireSupervision('supervised', supervision));
  return pipeline;
}

/** The supervision `supervised` set on `pipeline`, if any. Internal to the runtime. */
export function supervisionOf(pipeline: Observable<unknown>): SupervisionMode | undefined {
  return policies.get(pipeline);
}
