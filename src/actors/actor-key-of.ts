import type { Envelope } from '../envelope/envelope.js';
import { ensureError } from '../errors.js';
import { keyBytes, keyFits } from '../state/state-key.js';
import { InvalidActorKeyError, KeyTooLongError } from './actor-errors.js';
import { MAX_ACTOR_KEY_BYTES } from './actor-limits.js';

/**
 * The actor key of one input, as the actor's `key` function gives it, checked where input enters
 * an actor: its own stream (the actor processor) and a topology's hand-over to `t.actor`. Both
 * call this so an input without a usable key gets the same dead letter, one error class per
 * failure kind, wherever it arrives.
 *
 * @throws InvalidActorKeyError when `key` throws or returns anything but a non-empty string (a
 *   `PayloadSchemaError` from an edge-schema check made in `key` is thrown as it is: it says more).
 * @throws KeyTooLongError for a key past `MAX_ACTOR_KEY_BYTES` UTF-8 bytes.
 */
export function actorKeyOf<M>(def: { readonly name: string; readonly key: (msg: Envelope<M>) => string }, input: Envelope<M>): string {
  let key: unknown;
  try {
    key = def.key(input);
  } catch (thrown) {
    const e = ensureError(thrown);
    if (e.name === 'PayloadSchemaError') throw e;
    throw new InvalidActorKeyError(def.name, input.subject, `key threw ${e.name}: ${e.message}`, { cause: e });
  }
  if (typeof key !== 'string' || key.length === 0)
    throw new InvalidActorKeyError(def.name, input.subject, `key must be a non-empty string, got ${JSON.stringify(key) ?? String(key)}`);
  if (!keyFits(key, MAX_ACTOR_KEY_BYTES)) throw new KeyTooLongError(def.name, input.subject, input.seq, keyBytes(key), MAX_ACTOR_KEY_BYTES);
  return key;
}
