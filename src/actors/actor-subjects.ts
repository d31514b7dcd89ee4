import { InvalidConfigError } from '../errors.js';
import { deadLetterSubject } from '../dead-letter/dead-letter-subject.js';
import { keyBytes, keyFits } from '../state/state-key.js';
import { validateSubject } from '../transport/subject.js';
import { MAX_ACTOR_KEY_BYTES } from './actor-limits.js';

/** Where an actor lives on NATS. */
export interface ActorAddress {
  /** Topology name (one subject token). */
  topology: string;
  /** Actor name (one subject token). */
  actor: string;
  /** Default `sluice.actor`. */
  prefix?: string | undefined;
}

/** The kinds of messages an actor takes on its own subjects (all captured by its input stream). */
export type ActorSubjectKind = 'tell' | 'timer' | 'reset';

/** The subjects of one actor; see {@link actorSubjects}. */
export interface ActorSubjects {
  /** `<prefix>.<topology>.<actor>` */
  readonly base: string;
  /** Core request/reply: state queries for `key`. */
  query(key: string): string;
  /** Stream subject: a message to the actor of `key`, ordered and exactly-once with its input. */
  tell(key: string): string;
  /** Stream subject on which the actor's timers for `key` fire. */
  timer(key: string): string;
  /** Stream subject: clears a stopped key. */
  reset(key: string): string;
  /** Subject patterns the input stream must capture (tell, timer, reset). */
  readonly streamSubjects: readonly string[];
  /** Pattern the state-query responder subscribes to. */
  readonly queryPattern: string;
  /** `sluice.dlq.<topology>.<actor>`: where dead letters go (a stream must capture it). */
  readonly deadLetter: string;
  /** The key and kind of one of this actor's stream subjects, else undefined. */
  parse(subject: string): { key: string; kind: ActorSubjectKind } | undefined;
}

const TOKEN = /^[A-Za-z0-9_-]+$/;

/**
 * The subject token for a key: the key itself when it is letters, digits, `-` and `_`; else `~`
 * followed by the key's UTF-8 bytes in base64url, so keys with dots, spaces or wildcards are
 * still one token. Other services must build subjects the same way (or use the client helpers).
 *
 * @throws InvalidConfigError for an empty key or one past `MAX_ACTOR_KEY_BYTES` (no actor has it).
 */
export function keyToken(key: string): string {
  if (key.length === 0) throw new InvalidConfigError('keyToken', 'key', 'must not be empty');
  if (!keyFits(key, MAX_ACTOR_KEY_BYTES))
    throw new InvalidConfigError('keyToken', 'key', `is ${keyBytes(key)} bytes, longer than the ${MAX_ACTOR_KEY_BYTES} bytes an actor key may be`);
  return TOKEN.test(key) ? key : `~${Buffer.from(key, 'utf8').toString('base64url')}`;
}

/** The key a {@link keyToken} stands for. */
export function keyFromToken(token: string): string {
  return token.startsWith('~') ? Buffer.from(token.slice(1), 'base64url').toString('utf8') : token;
}

/**
 * The subjects of an actor:
 * - `<prefix>.<topology>.<actor>.<key>` — state queries (core request/reply, answered from LMDB)
 * - `<prefix>.<topology>.<actor>.<key>.tell` — messages to the actor (through its input stream)
 * - `<prefix>.<topology>.<actor>.<key>.timer` — timer firings (published by the timer service)
 * - `<prefix>.<topology>.<actor>.<key>.reset` — un-stops a key stopped by supervision
 * - `sluice.dlq.<topology>.<actor>` — dead letters (`deadLetterSubject(topology, actor)`)
 *
 * @throws InvalidConfigError when the prefix, topology or actor name cannot be subject tokens.
 */
export function actorSubjects(address: ActorAddress): ActorSubjects {
  const prefix = address.prefix ?? 'sluice.actor';
  try {
    validateSubject(prefix, { wildcards: false });
  } catch (err) {
    throw new InvalidConfigError('actorSubjects', 'prefix', `is not a valid subject: ${JSON.stringify(prefix)}`, { cause: err });
  }
  for (const field of ['topology', 'actor'] as const) {
    if (!TOKEN.test(address[field])) {
      throw new InvalidConfigError('actorSubjects', field, `must be letters, digits, '-' or '_', got ${JSON.stringify(address[field])}`);
    }
  }
  const base = `${prefix}.${address.topology}.${address.actor}`;
  const baseTokens = base.split('.').length;
  return {
    base,
    query: (key) => `${base}.${keyToken(key)}`,
    tell: (key) => `${base}.${keyToken(key)}.tell`,
    timer: (key) => `${base}.${keyToken(key)}.timer`,
    reset: (key) => `${base}.${keyToken(key)}.reset`,
    streamSubjects: [`${base}.*.tell`, `${base}.*.timer`, `${base}.*.reset`],
    queryPattern: `${base}.*`,
    deadLetter: deadLetterSubject(address.topology, address.actor),
    parse(subject) {
      if (!subject.startsWith(`${base}.`)) return undefined;
      const tokens = subject.split('.');
      if (tokens.length !== baseTokens + 2) return undefined;
      const kind = tokens[baseTokens + 1];
      const token = tokens[baseTokens]!;
      if (kind !== 'tell' && kind !== 'timer' && kind !== 'reset') return undefined;
      return { key: keyFromToken(token), kind };
    },
  };
}
