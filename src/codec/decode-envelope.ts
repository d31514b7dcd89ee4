import type { Envelope } from '../envelope/envelope.js';
import { HEADERS } from '../envelope/envelope.js';
import { DecodeError } from '../errors.js';
import type { Codec } from './codec.js';
import { codecFor } from './codec-for.js';
import { msgpackCodec } from './msgpack-codec.js';

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
  // Fields are copied one by one, not spread: engine messages expose them as getters, which a
  // spread would drop.
  return {
    subject: env.subject,
    data: data as T,
    headers: env.headers,
    id: env.id,
    key: env.key,
    eventTime: env.eventTime,
    stream: env.stream,
    seq: env.seq,
    reply: env.reply,
    raw: env.data,
  };
}
