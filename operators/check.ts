import {
  asyncScheduler,
  catchError,
  defer,
  from,
  map,
  of,
  take,
  throwError,
  throwIfEmpty,
  timeout,
  type Observable,
  type ObservableInput,
  type OperatorFunction,
  type SchedulerLike,
} from 'rxjs';
import type { Envelope } from '../src/envelope/envelope.js';
import { ensureError, InvalidConfigError } from '../src/errors.js';
import { deadLettered, type DeadLettered } from '../src/dead-letter/dead-letter-record.js';
import { requireInt, requireName, requireNumber } from './internal/validate-config.js';
import { orderedMergeMap } from './internal/ordered-merge-map.js';
import { operatorCounters } from '../src/observe/operator-stats.js';

/** What to do with an envelope whose check timed out or failed. */
export type CheckFallback = 'allow' | 'deny' | 'dead-letter';

/** Options for {@link check}. */
export interface CheckConfig<T, Reply> {
  /** Names the check in errors and dead letters (`check:<name>`). */
  name: string;
  /**
   * Asks the other service; the first value is the reply. Production passes a transport request,
   * e.g. `(env) => transport.request('fraud.check', env.raw!, { timeoutMs: 250 })`.
   */
  request: (envelope: Envelope<T>) => ObservableInput<Reply>;
  /** How long to wait for a reply, ms, counted from when the request starts (not from arrival). */
  timeoutMs: number;
  /** No reply in time (including the transport's own `RequestTimeoutError`/`TimeoutError`). */
  onTimeout: CheckFallback;
  /** The request failed otherwise (no responders, a thrown error, completed without a reply). */
  onError: CheckFallback;
  /** Requests outstanding at once. Default 16. */
  maxInFlight?: number | undefined;
  /** Envelopes waiting for a request slot before the output fails with `BufferOverflowError`. Default 10000. */
  maxQueued?: number | undefined;
  /** Scheduler for the timeout and dead-letter timestamps. Default `asyncScheduler`. */
  scheduler?: SchedulerLike | undefined;
  /**
   * `true` (default): results in input order (a result waits for the ones before it).
   * `false`: each result goes out as soon as it is known, so one slow request does not delay
   * the others (with 100 in flight, far lower latency).
   */
  ordered?: boolean | undefined;
}

/** How a check ended for one envelope (dead letters are emitted as `DeadLettered` instead). */
export type CheckOutcome = 'answered' | 'timed-out-allowed' | 'timed-out-denied' | 'failed-allowed' | 'failed-denied';

/** The check's result for one envelope. Whether an answer means "go" is the caller's to read from `reply`. */
export type Checked<T, Reply> =
  | { readonly kind: 'checked'; readonly outcome: 'answered'; readonly envelope: Envelope<T>; readonly reply: Reply }
  | {
      readonly kind: 'checked';
      readonly outcome: Exclude<CheckOutcome, 'answered'>;
      readonly envelope: Envelope<T>;
      /** Why there is no reply: a `CheckTimeoutError` or the request's error. */
      readonly error: Error;
    };

/** No reply arrived within the check's `timeoutMs`. */
export class CheckTimeoutError extends Error {
  override readonly name = 'CheckTimeoutError';
  constructor(
    readonly check: string,
    readonly timeoutMs: number,
    readonly messageId: string,
  ) {
    super(`check '${check}': no reply within ${timeoutMs} ms for message '${messageId}'`);
  }
}

const NAME = 'check';
const FALLBACKS: readonly CheckFallback[] = ['allow', 'deny', 'dead-letter'];
// Timeouts raised by the request itself count as timeouts, whoever raised them first.
const TIMEOUT_NAMES = new Set(['CheckTimeoutError', 'RequestTimeoutError', 'TimeoutError']);

/**
 * Asks another service about each envelope (request/reply) before it goes on: enrichment, or a
 * veto such as a fraud check that must answer before a payment completes.
 *
 * - Emits: one result per envelope, in input order (`ordered: false`: as each completes): `Checked` with outcome `answered` and the
 *   reply, or a fallback outcome (`timed-out-allowed`, `timed-out-denied`, `failed-allowed`,
 *   `failed-denied`) with the error; or `DeadLettered` when the fallback is `dead-letter`.
 * - Holds: up to `maxInFlight` outstanding requests with their results (ordered: a result waits
 *   for the ones before it), plus up to `maxQueued` envelopes waiting for a slot. Each envelope's input
 *   stays unacknowledged from arrival until its result — answer, fallback or dead letter — has
 *   been emitted in the input's scope and the effects that emission started downstream (a
 *   durable publish, the dead letter's store) are complete.
 * - Fails: never because of a request; on queue overflow (bound the source's credit instead),
 *   or when the source fails. Inputs still waiting then (or on unsubscribe) are failed, so a
 *   JetStream source delivers them again.
 * - Guarantee: passes its input's on (at-least-once from a JetStream stream). The request itself
 *   is core request/reply, at-most-once: a redelivered input asks again, so the service should
 *   answer reads, or dedupe by the message id.
 *
 * ```ts
 * payments$.pipe(
 *   check({
 *     name: 'fraud',
 *     request: (env) => from(transport.request('fraud.score', env.raw!, { timeoutMs: 300 })),
 *     timeoutMs: 250, onTimeout: 'allow', onError: 'dead-letter', maxInFlight: 32,
 *   }),
 * );
 * ```
 * @throws InvalidConfigError at creation for a bad field.
 */
export function check<T, Reply>(config: CheckConfig<T, Reply>): OperatorFunction<Envelope<T>, Checked<T, Reply> | DeadLettered<T>> {
  if (typeof config !== 'object' || config === null) throw new InvalidConfigError(NAME, 'config', 'must be an object');
  const name = requireName(NAME, 'name', config.name);
  const { request } = config;
  if (typeof request !== 'function') throw new InvalidConfigError(NAME, 'request', `must be a function, got ${typeof request}`);
  const timeoutMs = requireNumber(NAME, 'timeoutMs', config.timeoutMs, 0);
  const onTimeout = requireFallback('onTimeout', config.onTimeout);
  const onError = requireFallback('onError', config.onError);
  const maxInFlight = requireInt(NAME, 'maxInFlight', config.maxInFlight ?? 16, 1);
  const maxQueued = requireInt(NAME, 'maxQueued', config.maxQueued ?? 10_000, 0);
  const scheduler = config.scheduler ?? asyncScheduler;
  const ordered = config.ordered ?? true;
  if (typeof ordered !== 'boolean') throw new InvalidConfigError(NAME, 'ordered', `must be a boolean, got ${typeof ordered}`);
  const operator = `${NAME}:${name}`;
  // in: envelopes asked about; out: results (answers and fallbacks); failures: fallbacks (timeouts, errors); unsettled: being asked.
  const counters = operatorCounters(`check ${name}`);
  counters.unsettled = 0;
  counters.failures = 0;

  const fallback = (envelope: Envelope<T>, thrown: unknown): Checked<T, Reply> | DeadLettered<T> => {
    const error = ensureError(thrown);
    const timedOut = TIMEOUT_NAMES.has(error.name);
    const policy = timedOut ? onTimeout : onError;
    counters.failures!++;
    counters.unsettled!--;
    counters.out++;
    if (policy === 'dead-letter') counters.deadLetters++;
    if (policy === 'dead-letter') return deadLettered(envelope, error, 1, { operator, failedAt: scheduler.now() });
    const outcome = timedOut ? (policy === 'allow' ? 'timed-out-allowed' : 'timed-out-denied') : policy === 'allow' ? 'failed-allowed' : 'failed-denied';
    return { kind: 'checked', outcome, envelope, error };
  };

  const ask = (envelope: Envelope<T>): Observable<Checked<T, Reply> | DeadLettered<T>> => {
    counters.in++;
    counters.unsettled!++;
    return defer(() => from(request(envelope))).pipe(
      take(1),
      throwIfEmpty(() => new Error(`check '${name}': the request completed without a reply`)),
      timeout({ first: timeoutMs, scheduler, with: () => throwError(() => new CheckTimeoutError(name, timeoutMs, envelope.id)) }),
      map((reply): Checked<T, Reply> => {
        counters.unsettled!--;
        counters.out++;
        return { kind: 'checked', outcome: 'answered', envelope, reply };
      }),
      catchError((err: unknown) => of(fallback(envelope, err))),
    );
  };

  return orderedMergeMap(ask, { maxInFlight, maxQueued, component: `check '${name}'`, stage: operator, ordered });
}

function requireFallback(field: string, value: unknown): CheckFallback {
  if (!FALLBACKS.includes(value as CheckFallback)) {
    throw new InvalidConfigError(NAME, field, `must be 'allow', 'deny' or 'dead-letter', got ${JSON.stringify(value)}`);
  }
  return value as CheckFallback;
}
