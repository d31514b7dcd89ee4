import { asyncScheduler, defer, retry, throwError, timer, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';
import { InvalidConfigError } from '../src/errors.js';
import { markStage } from '../src/observe/lineage.js';
import { currentSettlement } from '../src/settle/settle-scope.js';
import { inSettlement } from './internal/in-settlement.js';

/** How a retry delay is randomised. See {@link backoffDelayMs}. */
export type Jitter = 'none' | 'full' | 'equal';

/** Options for {@link retryWithBackoff}; every field has a default. */
export interface RetryWithBackoffConfig {
  /** Total tries including the first, >= 1. Default 3. */
  maxAttempts?: number | undefined;
  /** Delay before the first retry, ms (before jitter). Default 100. */
  initialDelayMs?: number | undefined;
  /** Cap on any delay, ms, >= initialDelayMs. Default 10000. */
  maxDelayMs?: number | undefined;
  /** Growth factor per retry, >= 1. Default 2. */
  multiplier?: number | undefined;
  /** `full`: uniform in [0, d]; `equal`: uniform in [d/2, d]; `none`: d. Default `full`. */
  jitter?: Jitter | undefined;
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

/** The validated, defaulted form of {@link RetryWithBackoffConfig}. */
export interface BackoffPolicy {
  readonly maxAttempts: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly multiplier: number;
  readonly jitter: Jitter;
}

const NOT_RETRYABLE = new Set(['TerminalError', 'DecodeError', 'EncodeError', 'InvalidConfigError']);

/** The default `isRetryable`: false for errors that a retry cannot fix (bad data, bad config). */
export function isRetryableByDefault(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return true;
  return !NOT_RETRYABLE.has(String((error as { name?: unknown }).name));
}

/**
 * The delay before retry number `retry` (1 = the first retry), ms:
 * `d = min(maxDelayMs, initialDelayMs * multiplier^(retry-1))`, then jitter. Always within
 * `[0, maxDelayMs]`; `equal` jitter stays within `[d/2, d]`, `full` within `[0, d]`.
 */
export function backoffDelayMs(retry: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const d = Math.min(policy.maxDelayMs, policy.initialDelayMs * Math.pow(policy.multiplier, retry - 1));
  if (policy.jitter === 'none') return d;
  const r = clamp01(random());
  return policy.jitter === 'full' ? r * d : d / 2 + (r * d) / 2;
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

/** Validates and defaults the backoff part of a config; `component` names the operator in errors. */
export function validateBackoff(config: RetryWithBackoffConfig, component: string): BackoffPolicy {
  const maxAttempts = config.maxAttempts ?? 3;
  const initialDelayMs = config.initialDelayMs ?? 100;
  const maxDelayMs = config.maxDelayMs ?? Math.max(10_000, initialDelayMs);
  const multiplier = config.multiplier ?? 2;
  const jitter = config.jitter ?? 'full';
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new InvalidConfigError(component, 'maxAttempts', `must be an integer >= 1, got ${maxAttempts}`);
  }
  if (!Number.isFinite(initialDelayMs) || initialDelayMs < 0) {
    throw new InvalidConfigError(component, 'initialDelayMs', `must be a finite number >= 0, got ${initialDelayMs}`);
  }
  if (!Number.isFinite(maxDelayMs) || maxDelayMs < initialDelayMs) {
    throw new InvalidConfigError(component, 'maxDelayMs', `must be finite and >= initialDelayMs (${initialDelayMs}), got ${maxDelayMs}`);
  }
  if (!Number.isFinite(multiplier) || multiplier < 1) {
    throw new InvalidConfigError(component, 'multiplier', `must be a finite number >= 1, got ${multiplier}`);
  }
  if (jitter !== 'none' && jitter !== 'full' && jitter !== 'equal') {
    throw new InvalidConfigError(component, 'jitter', `must be 'none', 'full' or 'equal', got ${JSON.stringify(jitter)}`);
  }
  return { maxAttempts, initialDelayMs, maxDelayMs, multiplier, jitter };
}

function clamp01(r: number): number {
  if (!(r > 0)) return 0;
  return r >= 1 ? 1 : r;
}
