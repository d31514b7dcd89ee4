import { InvalidConfigError } from '../errors.js';

/**
 * How a retry delay is randomised (see {@link backoffDelayMs}): `full` uniform in [0, d] (AWS's
 * "full jitter", what spreads many clients' retries best), `equal` uniform in [d/2, d] (never
 * much shorter than planned), `none` exactly d.
 */
export type Jitter = 'none' | 'full' | 'equal';

/**
 * The one retry vocabulary, wherever Sluice waits before trying again (`retryWithBackoff`,
 * `guard`/`guardHandler`'s `retry`, actor supervision `{ mode: 'retry' }`, a pipeline's
 * restart, a stream source's redelivery, the transports' reconnect and publish retries).
 * Each user of it says its own defaults.
 */
export interface RetryPolicy {
  /** Total tries including the first, >= 1. */
  maxAttempts?: number | undefined;
  /** Delay before the first retry, ms (before jitter), >= 0. */
  initialDelayMs?: number | undefined;
  /** Cap on any delay, ms, >= initialDelayMs. */
  maxDelayMs?: number | undefined;
  /** Growth factor per retry, >= 1. */
  multiplier?: number | undefined;
  /** See {@link Jitter}. */
  jitter?: Jitter | undefined;
}

/** A {@link RetryPolicy} validated, with every default filled in. */
export interface BackoffPolicy {
  readonly maxAttempts: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly multiplier: number;
  readonly jitter: Jitter;
}

/**
 * The one backoff formula: the delay before retry number `retry` (1 = the first retry), ms,
 * exponential with a cap, then jitter: `d = min(maxDelayMs, initialDelayMs * multiplier^(retry-1))`;
 * `full` gives uniform [0, d], `equal` uniform [d/2, d], `none` d. Always within [0, maxDelayMs].
 */
export function backoffDelayMs(retry: number, policy: Omit<BackoffPolicy, 'maxAttempts'>, random: () => number = Math.random): number {
  const d = Math.min(policy.maxDelayMs, policy.initialDelayMs * Math.pow(policy.multiplier, Math.max(0, retry - 1)));
  if (policy.jitter === 'none') return d;
  const r = clamp01(random());
  return policy.jitter === 'full' ? r * d : d / 2 + (r * d) / 2;
}

/**
 * Validates `config` and fills its gaps from `defaults`; a missing `maxDelayMs` is at least
 * `initialDelayMs`. `component` names the operator in errors, `prefix` the config path of the
 * policy (e.g. `supervision.`).
 * @throws InvalidConfigError naming the field and value.
 */
export function resolveRetryPolicy(config: RetryPolicy, defaults: BackoffPolicy, component: string, prefix = ''): BackoffPolicy {
  const maxAttempts = config.maxAttempts ?? defaults.maxAttempts;
  const initialDelayMs = config.initialDelayMs ?? defaults.initialDelayMs;
  const maxDelayMs = config.maxDelayMs ?? Math.max(defaults.maxDelayMs, initialDelayMs);
  const multiplier = config.multiplier ?? defaults.multiplier;
  const jitter = config.jitter ?? defaults.jitter;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new InvalidConfigError(component, `${prefix}maxAttempts`, `must be an integer >= 1, got ${maxAttempts}`);
  }
  if (!Number.isFinite(initialDelayMs) || initialDelayMs < 0) {
    throw new InvalidConfigError(component, `${prefix}initialDelayMs`, `must be a finite number >= 0, got ${initialDelayMs}`);
  }
  if (!Number.isFinite(maxDelayMs) || maxDelayMs < initialDelayMs) {
    throw new InvalidConfigError(component, `${prefix}maxDelayMs`, `must be finite and >= initialDelayMs (${initialDelayMs}), got ${maxDelayMs}`);
  }
  if (!Number.isFinite(multiplier) || multiplier < 1) {
    throw new InvalidConfigError(component, `${prefix}multiplier`, `must be a finite number >= 1, got ${multiplier}`);
  }
  if (jitter !== 'none' && jitter !== 'full' && jitter !== 'equal') {
    throw new InvalidConfigError(component, `${prefix}jitter`, `must be 'none', 'full' or 'equal', got ${JSON.stringify(jitter)}`);
  }
  return { maxAttempts, initialDelayMs, maxDelayMs, multiplier, jitter };
}

function clamp01(r: number): number {
  if (!(r > 0)) return 0;
  return r >= 1 ? 1 : r;
}
