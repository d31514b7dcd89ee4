import { asyncScheduler, map, type OperatorFunction, type SchedulerLike } from 'rxjs';
import type { Codec } from '../src/codec/codec.js';
import { decodeEnvelopes } from '../src/codec/decode-envelopes.js';
import { msgpackCodec } from '../src/codec/msgpack-codec.js';
import { deadLettered, type DeadLettered } from '../src/dead-letter/dead-letter-record.js';
import type { Envelope } from '../src/envelope/envelope.js';
import { InvalidConfigError } from '../src/errors.js';
import { markStage } from '../src/observe/lineage.js';
import { requireName } from './internal/validate-config.js';

/** Options for {@link decodeBatch}. */
export interface DecodeBatchConfig {
  /** Names the operator in dead letters (`decodeBatch:<name>`). */
  name: string;
  /** Codec for messages without a `Content-Type` header. Default msgpack. */
  codec?: Codec | undefined;
  /** Clock for dead-letter timestamps. Default `asyncScheduler`. */
  scheduler?: SchedulerLike | undefined;
}

/** A batch as {@link decodeBatch} emits it. */
export interface DecodedBatch<T> {
  /** The messages that decoded, in batch order, as `t.source` would have passed them on (their bytes still forwardable). */
  readonly envelopes: Envelope<T>[];
  /** The ones that did not, in batch order, each with a `DecodeError` naming subject, stream, sequence and reason; their payload is the bytes as they came. */
  readonly deadLetters: DeadLettered<Uint8Array>[];
}

const NAME = 'decodeBatch';

/**
 * Decodes a batch of undecoded messages (from `t.source(subject, { decode: false })` or
 * `t.stream(..., { decode: false })`, batched by `microBatch` or `batchUntil`) in one go: one
 * call into msgpackr for the whole batch instead of one per message. A batch style that holds
 * the bytes and decodes at the cut pays less per event than decoding each message on arrival,
 * and holds no decoded objects while it waits.
 *
 * - Emits: one `DecodedBatch` per batch, synchronously: the decoded envelopes and, for each
 *   message that could not be decoded, a `DeadLettered` (hand it to `t.deadLetter`).
 * - Holds: nothing between batches.
 * - Fails: never because of a payload. A malformed one makes the one bulk call fail; the batch is
 *   then decoded message by message, so only the bad ones are dead letters. Completes/fails when
 *   the source does.
 * - Guarantee: the envelopes and errors are those `t.source` makes decoding each message (same
 *   values, same `DecodeError`s); acknowledgement is the batching operator's (inputs settle when
 *   the batch's effects complete).
 *
 * ```ts
 * t.source<Uint8Array>('orders.created', { decode: false }).pipe(
 *   microBatch({ maxCount: 1000, maxWaitMs: 100 }),
 *   decodeBatch<Order>({ name: 'orders' }),
 *   tap(({ deadLetters }) => deadLetters.forEach((d) => t.deadLetter(d.envelope, d.error, d.record.operator))),
 *   map(({ envelopes }) => envelopes),
 * );
 * ```
 * @throws InvalidConfigError at creation for a missing name or a codec that is not one.
 */
export function decodeBatch<T = unknown>(config: DecodeBatchConfig): OperatorFunction<readonly Envelope<Uint8Array>[], DecodedBatch<T>> {
  if (typeof config !== 'object' || config === null) throw new InvalidConfigError(NAME, 'config', 'must be an object');
  const name = requireName(NAME, 'name', config.name);
  const codec = config.codec ?? msgpackCodec;
  if (typeof codec.decode !== 'function') throw new InvalidConfigError(NAME, 'codec', 'must be a codec (with a decode function)');
  const scheduler = config.scheduler ?? asyncScheduler;
  const operator = `${NAME}:${name}`;
  return (source) =>
    markStage(
      source.pipe(
        map((batch): DecodedBatch<T> => {
          const { envelopes, failed } = decodeEnvelopes<T>(batch, codec);
          const deadLetters = failed.map((f) => deadLettered(f.envelope, f.error, 1, { operator, failedAt: scheduler.now() }));
          return { envelopes, deadLetters };
        }),
      ),
      source,
      { name: operator, effect: 'passes' },
    );
}
