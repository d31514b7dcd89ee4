import { resolveRetryPolicy, type BackoffPolicy } from '../retry/retry-policy.js';
import { msgpackCodec } from '../codec/msgpack-codec.js';
import { InvalidConfigError } from '../errors.js';
import type { ActorConfig, ActorDefinition, ResolvedSupervision, Supervision } from './types.js';

const NAME = /^[A-Za-z0-9_-]+$/;

/**
 * Defines a keyed actor: the state and behaviour of one key, run on the exactly-once engine by
 * `startActor` (or `createActorProcessor`). Validates the configuration now, not when it runs.
 *
 * Concurrency: one message per key at a time, in stream order, and a behaviour is never
 * re-entered for its key; different keys run concurrently within a micro-batch. Memory: at most
 * `maxKeysInMemory` states cached, idle ones evicted after `passivateAfterMs`; everything else is
 * in LMDB. Failure: a throwing behaviour is handled by `supervision` (retry, skip to the dead
 * letters, or stop the key), never by stopping the topology; undecodable input and messages for
 * a stopped key go to the dead letters with their original bytes.
 *
 * @example
 * const counter = actor({
 *   name: 'counter',
 *   key: (m: Envelope<{ id: string }>) => m.data.id,
 *   initial: () => 0,
 *   handle: (n, msg, ctx) => { ctx.emit('counts', { key: ctx.key, n: n + 1 }); return n + 1; },
 * });
 *
 * @throws InvalidConfigError for a bad name, limit or supervision.
 */
export function actor<S, M = unknown, P = unknown>(config: ActorConfig<S, M, P>): ActorDefinition<S, M, P> {
  const where = `actor(${JSON.stringify(config.name)})`;
  if (typeof config.name !== 'string' || !NAME.test(config.name)) {
    throw new InvalidConfigError(where, 'name', `must be letters, digits, '-' or '_', got ${JSON.stringify(config.name)}`);
  }
  for (const field of ['key', 'initial', 'handle'] as const) {
    if (typeof config[field] !== 'function') {
      throw new InvalidConfigError(where, field, `must be a function, got ${typeof config[field]}`);
    }
  }
  const passivateAfterMs = config.passivateAfterMs ?? 300_000;
  if (!(passivateAfterMs > 0)) {
    throw new InvalidConfigError(where, 'passivateAfterMs', `must be > 0, got ${passivateAfterMs}`);
  }
  const maxKeysInMemory = config.maxKeysInMemory ?? 10_000;
  if (!Number.isInteger(maxKeysInMemory) || maxKeysInMemory < 1) {
    throw new InvalidConfigError(where, 'maxKeysInMemory', `must be an integer >= 1, got ${maxKeysInMemory}`);
  }
  return {
    name: config.name,
    key: config.key,
    initial: config.initial,
    handle: config.handle,
    supervision: resolveSupervision(where, config.supervision),
    passivateAfterMs,
    maxKeysInMemory,
    codec: config.codec ?? msgpackCodec,
  };
}

// An actor's retries wait inside its own batch: no crowd of clients to spread, so no jitter.
const ACTOR_RETRY: BackoffPolicy = { maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 5_000, multiplier: 2, jitter: 'none' };

function resolveSupervision(where: string, s: Supervision | undefined): ResolvedSupervision {
  const base: ResolvedSupervision = { mode: 'retry', ...ACTOR_RETRY, onExhausted: 'skip' };
  if (s === undefined || s === 'retry') return base;
  if (s === 'skip' || s === 'resume' || s === 'stop-key') return { ...base, mode: s === 'resume' ? 'skip' : s, maxAttempts: 1 };
  if (typeof s !== 'object' || s.mode !== 'retry') {
    throw new InvalidConfigError(where, 'supervision', `must be 'retry', 'resume', 'skip', 'stop-key' or { mode: 'retry', ... }, got ${JSON.stringify(s)}`);
  }
  const resolved: ResolvedSupervision = { mode: 'retry', ...resolveRetryPolicy(s, ACTOR_RETRY, where, 'supervision.'), onExhausted: s.onExhausted ?? 'skip' };
  if (resolved.onExhausted !== 'skip' && resolved.onExhausted !== 'stop-key') {
    throw new InvalidConfigError(where, 'supervision.onExhausted', `must be 'skip' or 'stop-key', got ${JSON.stringify(resolved.onExhausted)}`);
  }
  return resolved;
}
