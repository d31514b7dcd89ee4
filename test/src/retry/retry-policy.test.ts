import { describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../../src/errors.js';
import { backoffDelayMs, resolveRetryPolicy, type BackoffPolicy } from '../../../src/retry/retry-policy.js';

const DEFAULTS: BackoffPolicy = { maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 1_000, multiplier: 2, jitter: 'none' };

describe('backoffDelayMs', () => {
  it('grows by the multiplier from initialDelayMs and stops at maxDelayMs', () => {
    expect([1, 2, 3, 4, 5, 60].map((n) => backoffDelayMs(n, DEFAULTS))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect([1, 2, 3, 4].map((n) => backoffDelayMs(n, { ...DEFAULTS, multiplier: 3 }))).toEqual([100, 300, 900, 1_000]);
  });

  it('full jitter spreads over [0, d], equal jitter over [d/2, d]', () => {
    expect(backoffDelayMs(3, { ...DEFAULTS, jitter: 'full' }, () => 0)).toBe(0);
    expect(backoffDelayMs(3, { ...DEFAULTS, jitter: 'full' }, () => 0.5)).toBe(200);
    expect(backoffDelayMs(3, { ...DEFAULTS, jitter: 'equal' }, () => 0)).toBe(200);
    expect(backoffDelayMs(3, { ...DEFAULTS, jitter: 'equal' }, () => 0.5)).toBe(300);
  });
});

describe('resolveRetryPolicy', () => {
  it('fills gaps from the defaults and keeps maxDelayMs >= initialDelayMs', () => {
    expect(resolveRetryPolicy({}, DEFAULTS, 'x')).toEqual(DEFAULTS);
    expect(resolveRetryPolicy({ initialDelayMs: 5_000 }, DEFAULTS, 'x').maxDelayMs).toBe(5_000);
  });

  it('names the field with its config path and the value', () => {
    expect(() => resolveRetryPolicy({ multiplier: 0.5 }, DEFAULTS, 'actor("a")', 'supervision.')).toThrow(InvalidConfigError);
    expect(() => resolveRetryPolicy({ multiplier: 0.5 }, DEFAULTS, 'actor("a")', 'supervision.')).toThrow(
      /'supervision.multiplier' must be a finite number >= 1, got 0.5/,
    );
    expect(() => resolveRetryPolicy({ initialDelayMs: 10, maxDelayMs: 5 }, DEFAULTS, 'x', 'restart.')).toThrow(/'restart.maxDelayMs'/);
  });
});
