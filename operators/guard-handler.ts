import {
  asyncScheduler,
  catchError,
  concat,
  defer,
  EMPTY,
  from,
  ignoreElements,
  of,
  take,
  tap,
  type Observable,
  type ObservableInput,
  type SchedulerLike,
} from 'rxjs';
import type { Envelope } from '../src/envelope/envelope.js';
import { InvalidConfigError } from '../src/errors.js';
import { deadLettered, type DeadLettered } from '../src/dead-letter/dead-letter-record.js';
import { currentSettlement } from '../src/settle/settle-scope.js';
import { inSettlement } from './internal/in-settlement.js';
import { retryWithBackoff, type RetryWithBackoffConfig } from './retry-with-backoff.js';

/** Options for {@link guardHandler} (and the `guard` operator built on it). */
export interface GuardHandlerConfig<T, R> {
  /** Names the handler in dead letters (`<kind>:<name>`). */
  name: string;
  /** The work for one envelope; `attempt` is 1 on the first try. Called again on each retry. */
  handle: (envelope: Envelope<T>, attempt: number) => ObservableInput<R>;
  /** Retry policy for failed tries. Omitted: one try, then dead letter. */
  retry?: RetryWithBackoffConfig | undefined;
  /**
   * Publishes a dead letter; the envelope's outcome is emitted after it completes (or its first
   * value), so an ack that follows the outcome comes after the dead letter is stored. May return
   * nothing for a synchronous sink such as `(d) => ctx.deadLetter(d.envelope, d.error)`.
   * If it fails, the output fails: a dead letter that cannot be stored must not be acked away.
   */
  sink: (dead: DeadLettered<T>) => ObservableInput<unknown> | void;
  /** Scheduler for retry delays and dead-letter timestamps. Default `asyncScheduler`. */
  scheduler?: SchedulerLike | undefined;
}

/** An envelope whose handler succeeded: what it emitted (usually one value) and how many tries it took. */
export interface Handled<T, R> {
  readonly kind: 'handled';
  readonly envelope: Envelope<T>;
  readonly values: readonly R[];
  readonly attempts: number;
}

/**
 * Wraps a handler with retries and a dead-letter sink, per envelope: the returned function gives,
 * for one envelope, an Observable that emits exactly one outcome and completes. Use it where
 * handlers are per message (e.g. as `keyed`'s `handle`); the `guard` operator runs it over a
 * stream.
 *
 * - Emits: one `Handled` (handler completed; values of failed tries are discarded) or one
 *   `DeadLettered` (not retryable, or `retry.maxAttempts` used up; after `sink` completed).
 * - Holds: the current try's values. It takes no hold itself: the operator running it (`keyed`,
 *   `guard`, `settleMap`) holds the input until the outcome is out. Every try and the `sink`
 *   run in the scope of the input the Observable was subscribed for (current when it was called
 *   or subscribed), even after a retry delay, so a sink such as `ctx.deadLetter` holds that input
 *   until the dead letter is stored.
 * - Fails: only when `sink` fails, or `handle` is not a function.
 * - Guarantee: passes its input's on inside a settle-aware operator; inside a bare `mergeMap` the
 *   outcome comes after the input was acknowledged (at-most-once).
 *
 * ```ts
 * const reserve = guardHandler({
 *   name: 'reserve-stock',
 *   handle: (env) => transport.request('stock.reserve', env.raw!, { timeoutMs: 500 }),
 *   retry: { maxAttempts: 4, initialDelayMs: 50 },
 *   sink: (dead) => ctx.deadLetter(dead.envelope, dead.error),
 * });
 * orders$.pipe(keyed({ name: 'stock', key: (e) => e.data.sku, handle: reserve, maxInFlight: 64, mailboxSize: 1_000 }));
 * ```
 * @throws InvalidConfigError at creation for a bad name, handler, sink or retry policy.
 */
export function guardHandler<T, R>(config: GuardHandlerConfig<T, R>): (envelope: Envelope<T>) => Observable<Handled<T, R> | DeadLettered<T>> {
  return createGuard('guardHandler', config);
}

/** @internal {@link guardHandler} under another operator's name (`kind`), for errors and dead letters. */
export function createGuard<T, R>(kind: string, config: GuardHandlerConfig<T, R>): (envelope: Envelope<T>) => Observable<Handled<T, R> | DeadLettered<T>> {
  if (typeof config !== 'object' || config === null) throw new InvalidConfigError(kind, 'config', 'must be an object');
  const { name, handle, sink } = config;
  if (typeof name !== 'string' || name.length === 0) throw new InvalidConfigError(kind, 'name', `must be a non-empty string, got ${String(name)}`);
  if (typeof handle !== 'function') throw new InvalidConfigError(kind, 'handle', `must be a function, got ${typeof handle}`);
  if (typeof sink !== 'function') throw new InvalidConfigError(kind, 'sink', `must be a function, got ${typeof sink}`);
  const scheduler = config.scheduler ?? asyncScheduler;
  const retrying = config.retry === undefined ? undefined : retryWithBackoff<unknown>({ scheduler, ...config.retry });
  const operator = `${kind}:${name}`;

  return (envelope) => {
    const calledFor = currentSettlement();
    return defer(() => {
      // The input this envelope came from: retries and the dead letter run in its scope, however
      // late, so what they hold (a dead letter's store) holds that input.
      const owner = currentSettlement() ?? calledFor;
      let attempts = 0;
      let values: R[] = [];
      const tries = inSettlement(owner, () => {
        attempts += 1;
        values = [];
        return from(handle(envelope, attempts)).pipe(tap((v) => values.push(v)));
      });
      const guarded = retrying === undefined ? tries : tries.pipe(retrying);
      return concat(
        guarded.pipe(ignoreElements()),
        defer(() => of<Handled<T, R>>({ kind: 'handled', envelope, values, attempts })),
      ).pipe(
        catchError((err: unknown) => {
          const dead = deadLettered(envelope, err, attempts, { operator, failedAt: scheduler.now() });
          const stored = inSettlement(owner, () => sink(dead) ?? EMPTY).pipe(take(1), ignoreElements());
          return concat(stored, of(dead));
        }),
      );
    });
  };
}
