// Real-time and resilience operators
export { route, RouteRuleError } from './route.js';
export type { RouteConfig, RouteRule, RouteRuleRecord, Routed } from './route.js';
export { tier } from './tier.js';
export type { TierConfig } from './tier.js';
export { check, CheckTimeoutError } from './check.js';
export type { CheckConfig, CheckFallback, CheckOutcome, Checked } from './check.js';
export { keyed } from './keyed.js';
export type { KeyedConfig } from './keyed.js';
export { retryWithBackoff, backoffDelayMs, isRetryableByDefault } from './retry-with-backoff.js';
export type { BackoffPolicy, Jitter, RetryWithBackoffConfig } from './retry-with-backoff.js';
export { guardHandler } from './guard-handler.js';
export type { GuardHandlerConfig, Handled } from './guard-handler.js';
export { deadLetter } from './dead-letter.js';
export type { DeadLetterConfig } from './dead-letter.js';
export { toDeadLetter, deadLettered, isDeadLettered } from './dead-letter-record.js';
export type { DeadLetterContext, DeadLetterRecord, DeadLettered } from './dead-letter-record.js';
