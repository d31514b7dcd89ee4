import { from, Observable, type ObservableInput } from 'rxjs';
import { withSettlement } from '../../src/settle/settle-scope.js';
import type { Settlement } from '../../src/settle/settlement.js';

/**
 * `defer(factory)`, but calling `factory` and subscribing to its result inside `settlement`'s
 * scope, however late that happens (a retry's timer, a slot freeing up after another input's
 * work). Whatever the work does synchronously on subscription — a durable publish, a dead-letter
 * store, a nested holding stage — then holds the input it is done for, not whichever input (or
 * none) happens to be current. Values emitted later are outside any scope: the caller re-enters
 * the scope when it passes them on. A throwing `factory` becomes an error notification.
 */
export function inSettlement<R>(settlement: Settlement | undefined, factory: () => ObservableInput<R>): Observable<R> {
  return new Observable<R>((subscriber) => withSettlement(settlement, () => from(factory()).subscribe(subscriber)));
}
