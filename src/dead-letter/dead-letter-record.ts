import { msgpackCodec } from '../codec/msgpack-codec.js';
import type { Envelope } from '../envelope/envelope.js';
import { ensureError } from '../errors.js';

/**
 * What Sluice publishes for a message it gave up on: one format for every part (pipelines,
 * operators, sinks, stream sources, actors, durable batches), on `deadLetterSubject(topology,
 * part?)`, kept in `SLUICE_DLQ_<topology>`, msgpack-encoded with `msgpackCodec` (standard
 * MessagePack any language reads); docs/dead-letters.md is the contract for other languages.
 * Fields that do not apply are absent, never `nil`. The record carries everything needed to
 * replay the message after a fix: publish `payload` with `headers` on `subject` — or, when
 * `payloadTruncated`, the original read back from `stream` at `seq`.
 *
 * ```text
 * { v: 1, operator: "route:orders", subject: "shop.orders.eu", id: "ORDERS:42",
 *   stream: "ORDERS", seq: 42, key: "sku-1", headers: { "Content-Type": "application/msgpack" },
 *   payload: <bin>, payloadSource: "raw",
 *   error: { name: "TypeError", message: "rule 2 (when): cannot read 'total'" },
 *   attempts: 1, failedAt: 1764201600000 }
 * ```
 */
export interface DeadLetterRecord {
  /** Record schema version; changes only when a field changes meaning. */
  readonly v: 1;
  /** The operator that gave up, `<kind>:<name>` (e.g. `check:fraud`). */
  readonly operator: string;
  /** Subject the message arrived on. */
  readonly subject: string;
  /** The envelope's stable message id. */
  readonly id: string;
  /** JetStream stream, for messages consumed from one. */
  readonly stream?: string;
  /** JetStream stream sequence, for messages consumed from a stream. */
  readonly seq?: number;
  /** Actor/partition key, when one was assigned. */
  readonly key?: string;
  /** The message's headers as received. */
  readonly headers: Readonly<Record<string, string>>;
  /** The message bytes; see `payloadSource` for what they are. */
  readonly payload: Uint8Array;
  /**
   * `raw`: the exact bytes that arrived. `data`: the raw bytes were not kept, so this is the
   * decoded value re-encoded as MessagePack. `none`: neither was available (payload is empty).
   */
  readonly payloadSource: 'raw' | 'data' | 'none';
  /** The failure: `name` is the error class name (e.g. `TerminalError`, `CheckTimeoutError`). */
  readonly error: { readonly name: string; readonly message: string };
  /**
   * Present (true) when the bytes did not fit the connection's max_payload: `payload` is then
   * only their first part, and the original is message `seq` of `stream` (when it came from one).
   */
  readonly payloadTruncated?: true;
  /** Present with `payloadTruncated`: the original payload's size, bytes. */
  readonly payloadBytes?: number;
  /**
   * Present when the failing message was itself a replay: the dead-letter record it replayed
   * (`<stream>/<seq>` of the dead-letter stream). Such a record is *parked*: a plain replay skips it.
   */
  readonly replayOf?: string;
  /** Present with `replayOf`: which replay of the message failed (1 = the first). */
  readonly replayAttempt?: number;
  /** How many times the message was tried (1 = not retried). */
  readonly attempts: number;
  /** When Sluice gave up, epoch ms. */
  readonly failedAt: number;
}

/**
 * A message an operator gave up on, emitted in-band (never thrown) so the pipeline can publish it
 * and then ack the input. In a topology: `ctx.deadLetter(d.envelope, d.error)`.
 */
export interface DeadLettered<T> {
  readonly kind: 'dead-letter';
  readonly envelope: Envelope<T>;
  /** The failure as thrown (made an `Error` if it was not one). */
  readonly error: Error;
  /** The same failure as plain data, with the operator name and attempt count. */
  readonly record: DeadLetterRecord;
}

/** Where and when a dead letter was made, for {@link toDeadLetter}. */
export interface DeadLetterContext {
  /** `<kind>:<name>` of the operator giving up. Default `'unknown'`. */
  operator?: string | undefined;
  /** Epoch ms. Default: now (`Date.now`); operators pass their scheduler's `now()`. */
  failedAt?: number | undefined;
}

const EMPTY = new Uint8Array(0);

/**
 * Headers a replayed message carries, naming the dead-letter record it came from, so a message
 * that fails again becomes a parked record pointing at its predecessor.
 */
export const REPLAY_HEADERS = {
  /** `<dead-letter stream>/<sequence>` of the record replayed. */
  of: 'Sluice-Replay-Of',
  /** 1 for the first replay of a message, 2 when a parked record is replayed, ... */
  attempt: 'Sluice-Replay-Attempt',
} as const;

/**
 * Builds the dead-letter record for `envelope` failing with `error` after `attempts` tries.
 * Keeps the original bytes (`envelope.raw`, or `data` when it is already bytes); otherwise
 * re-encodes the decoded value. Never throws.
 */
export function toDeadLetter(envelope: Envelope<unknown>, error: unknown, attempts = 1, context: DeadLetterContext = {}): DeadLetterRecord {
  const err = ensureError(error);
  const { payload, payloadSource } = payloadOf(envelope);
  const record: { -readonly [K in keyof DeadLetterRecord]: DeadLetterRecord[K] } = {
    v: 1,
    operator: context.operator ?? 'unknown',
    subject: envelope.subject,
    id: envelope.id,
    headers: envelope.headers,
    payload,
    payloadSource,
    error: { name: err.name, message: err.message },
    attempts,
    failedAt: context.failedAt ?? Date.now(),
  };
  // Absent rather than undefined, so the record reads the same in every encoding (JSON drops undefined too).
  if (envelope.stream !== undefined) record.stream = envelope.stream;
  if (envelope.seq !== undefined) record.seq = envelope.seq;
  if (envelope.key !== undefined) record.key = envelope.key;
  const replayOf = envelope.headers[REPLAY_HEADERS.of];
  const replayAttempt = Number(envelope.headers[REPLAY_HEADERS.attempt]);
  if (replayOf !== undefined && Number.isInteger(replayAttempt) && replayAttempt >= 1) {
    record.replayOf = replayOf;
    record.replayAttempt = replayAttempt;
  }
  return record;
}

/** Wraps {@link toDeadLetter}'s record with its envelope, as operators emit it. */
export function deadLettered<T>(envelope: Envelope<T>, error: unknown, attempts: number, context: DeadLetterContext): DeadLettered<T> {
  const err = ensureError(error);
  return { kind: 'dead-letter', envelope, error: err, record: toDeadLetter(envelope, err, attempts, context) };
}

/** Type guard for the dead letters operators emit in-band. */
export function isDeadLettered(value: unknown): value is DeadLettered<unknown> {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'dead-letter' && 'record' in value;
}

function payloadOf(envelope: Envelope<unknown>): Pick<DeadLetterRecord, 'payload' | 'payloadSource'> {
  if (envelope.raw !== undefined) return { payload: envelope.raw, payloadSource: 'raw' };
  if (envelope.data instanceof Uint8Array) return { payload: envelope.data, payloadSource: 'raw' };
  try {
    return { payload: msgpackCodec.encode(envelope.data), payloadSource: 'data' };
  } catch {
    return { payload: EMPTY, payloadSource: 'none' };
  }
}
