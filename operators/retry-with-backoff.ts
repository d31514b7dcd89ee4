import { asyncScheduler, defer, retry, throwError, timer, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';
import { markStage } from '../src/observe/lineage.js';
import { currentSettlement } from '../src/settle/settle-scope.js';
import { inSettlement } from './internal/in-settlement.js';
import { backoffDelayMs, resolveRetryPolicy, type BackoffPolicy, type RetryPolicy } from '../src/retry/retry-policy.js';

export { backoffDelayMs, type BackoffPolicy, type Jitter, type RetryPolicy } from '../src/retry/retry-policy.js';

/**
 * Options for {@link retryWithBackoff}: the {@link RetryPolicy} (defaults: 3 attempts, 100 ms
 * doubling up to 10 s, `full` jitter) and how to apply it; every field has a default.
 */
export interface RetryWithBackoffConfig extends RetryPolicy {
  /**
   * Whether an error is worth retrying. Default {@link isRetryableByDefault}: everything except
   * `TerminalError`, `DecodeError`, `EncodeError` and `InvalidConfigError` (by `name`, so
   * subclasses that keep the name and errors from other realms count too).
   */
  isRetryable?: ((error: unknown) => boolean) | undefined;
  /** Restart counting after a value arrives (for long-lived streams). Default false. */
  resetOnValue?: boolean | undefined;
  /** Where delays are scheduled. Default `asyncScheduler`; tests pass a `TestScheduler`. */
  scheduler?: SchedulerLike | undefined;
  /** Source of randomness in [0, 1) for jitter. Default `Math.random`; tests inject their own. */
  random?: (() => number) | undefined;
}

const NOT_RETRYABLE = new Set(['TerminalError', 'DecodeError', 'EncodeError', 'InvalidConfigError']);

/** The default `isRetryable`: false for errors that a retry cannot fix (bad data, bad config). */
export function isRetryableByDefault(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return true;
  return !NOT_RETRYABLE.has(String((error as { name?: unknown }).name));
}

/**
 * Resubscribes to the source when it errors with a retryable error, waiting an exponentially
 * growing, jittered delay between tries; gives up after `maxAttempts` tries in total.
 *
 * Emits: whatever the source emits, on every try (wrap the source in `defer` so each try does
 * the work again, and discard partial output yourself if a try can emit before failing).
 * Holds: one timer. Fails: with the source's last error, unchanged, when it is not retryable or
 * the attempts are used up; the error is never wrapped, so its `name` reaches dead letters.
 *
 * Guarantee: passes its input's on. Used per message inside a settle-aware operator
 * (`settleMap`, `deadLetter`, `keyed`, `guardHandler`), the input stays unacknowledged across
 * every try and delay (a JetStream source keeps it alive with `working()`, so a long backoff
 * does not trigger a redelivery), and every try is subscribed in that input's scope, so what a
 * try holds holds that input. Around a whole stream, a retry resubscribes the source, which
 * delivers again what was not settled.
 *
 * ```ts
 * defer(() => transport.request('stock.reserve', bytes, { timeoutMs: 500 })).pipe(
 *   retryWithBackoff({ maxAttempts: 5, initialDelayMs: 50, maxDelayMs: 2_000 }),
 * );
 * ```
 * @throws InvalidConfigError at creation for out-of-range values.
 */
export function retryWithBackoff<T>(config: RetryWithBackoffConfig = {}): MonoTypeOperatorFunction<T> {
  const policy = validateBackoff(config, 'retryWithBackoff');
  const isRetryable = config.isRetryable ?? isRetryableByDefault;
  const random = config.random ?? Math.random;
  const scheduler = config.scheduler ?? asyncScheduler;
  const retrying = retry<T>({
    count: policy.maxAttempts - 1,
    resetOnSuccess: config.resetOnValue ?? false,
    delay: (error: unknown, retryNumber: number) => {
      let retryable: boolean;
      try {
        retryable = isRetryable(error);
      } catch (thrown) {
        return throwError(() => thrown);
      }
      if (!retryable) return throwError(() => error);
      return timer(backoffDelayMs(retryNumber, policy, random), scheduler);
    },
  });
  return (source) =>
    markStage(
      // A retry resubscribes from a timer, outside any scope: resubscribe in the scope of the
      // input the first try was for, so what a try holds (a durable publish) holds that input.
      defer(() => {
        const owner = currentSettlement();
        return inSettlement(owner, () => source).pipe(retrying);
      }),
      source,
      { name: 'retryWithBackoff', effect: 'passes' },
    );
}

/** The defaults of {@link retryWithBackoff} (and of `guard`'s and `guardHandler`'s `retry`). */
const DEFAULTS: BackoffPolicy = { maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 10_000, multiplier: 2, jitter: 'full' };

/** Validates and defaults a retry config; `component` names the operator in errors. */
export function validateBackoff(config: RetryWithBackoffConfig, component: string): BackoffPolicy {
  return resolveRetryPolicy(config, DEFAULTS, component);
}
