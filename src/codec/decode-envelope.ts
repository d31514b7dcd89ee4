import type { Envelope } from '../envelope/envelope.js';
import { HEADERS } from '../envelope/envelope.js';
import { DecodeError } from '../errors.js';
import type { Codec } from './codec.js';
import { codecFor } from './codec-for.js';
import { msgpackCodec } from './msgpack-codec.js';

/**
 * An envelope as {@link decodeEnvelope} made it: while a stage passes on this very object, its
 * `data` is what `raw` decoded to. A stage that replaced `data` made a new object (a spread keeps
 * `raw` but not the class), so a sink encodes that one instead of forwarding the old bytes. A
 * class rather than a registry of decoded values: marking costs nothing per message, where a
 * WeakMap entry per message cost microseconds in garbage collection.
 */
class DecodedEnvelope<T> implements Envelope<T> {
  constructor(
    readonly subject: string,
    readonly data: T,
    readonly headers: Readonly<Record<string, string>>,
    readonly id: string,
    readonly key: string | undefined,
    readonly eventTime: number,
    readonly stream: string | undefined,
    readonly seq: number | undefined,
    readonly reply: string | undefined,
    readonly raw: Uint8Array,
  ) {}
}

/**
 * Whether `env.data` is still what `env.raw` decoded to, so its bytes may be forwarded without
 * encoding: true only for the envelopes {@link decodeEnvelope} returns, as they are. Any copy (a
 * spread, even one that changed nothing) answers false and is encoded again: correct, just slower.
 */
export function carriesDecodedData(env: Envelope<unknown>): boolean {
  return env instanceof DecodedEnvelope;
}

/**
 * Decodes a transport envelope's bytes with the codec its `Content-Type` header names (or
 * `fallback` when it has none). The original bytes stay in `raw` for dead letters.
 *
 * @throws DecodeError naming the subject, stream and sequence, with the codec's error as cause.
 */
export function decodeEnvelope<T = unknown>(env: Envelope<Uint8Array>, fallback: Codec = msgpackCodec): Envelope<T> {
  const contentType = env.headers[HEADERS.contentType];
  const codec = codecFor(contentType, fallback);
  if (codec === undefined) {
    throw new DecodeError(env, contentType ?? '', `unsupported content type '${contentType}'`);
  }
  let data: unknown;
  try {
    data = codec.decode(env.data);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new DecodeError(env, codec.contentType, detail, { cause: err });
  }
  return decodedEnvelope(env, data as T);
}

/**
 * `env` (as it came off the transport) with `data` its decoded bytes: the envelope
 * {@link decodeEnvelope} returns, for a caller that decoded the bytes itself (several at once).
 */
export function decodedEnvelope<T>(env: Envelope<Uint8Array>, data: T): Envelope<T> {
  // Fields are read one by one, not spread: engine messages expose them as getters, which a
  // spread would drop.
  return new DecodedEnvelope(env.subject, data, env.headers, env.id, env.key, env.eventTime, env.stream, env.seq, env.reply, env.data);
}
