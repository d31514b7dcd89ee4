import type { Envelope } from '../envelope/envelope.js';
import { HEADERS } from '../envelope/envelope.js';
import { DecodeError } from '../errors.js';
import type { Codec } from './codec.js';
import { codecFor } from './codec-for.js';
import { msgpackCodec } from './msgpack-codec.js';

// What each envelope's original bytes decoded to, so a sink can tell whether `data` is still that
// value: a stage that replaced it (`map((e) => ({ ...e, data: f(e.data) }))` keeps `raw`) must be
// encoded again, not forwarded as the old bytes. Keyed by the bytes, so the entry goes with them.
const decodedFrom = new WeakMap<Uint8Array, unknown>();

/**
 * Whether `env.data` is still exactly what `env.raw` decoded to (by identity), so its bytes may
 * be forwarded without encoding: true only for envelopes made by {@link decodeEnvelope} whose
 * data no stage has replaced since.
 */
export function carriesDecodedData(env: Envelope<unknown>): boolean {
  return env.raw !== undefined && env.data !== undefined && decodedFrom.get(env.raw) === env.data;
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
  decodedFrom.set(env.data, data);
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
