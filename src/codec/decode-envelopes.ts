import type { Envelope } from '../envelope/envelope.js';
import { HEADERS } from '../envelope/envelope.js';
import type { Codec } from './codec.js';
import { codecFor } from './codec-for.js';
import { decodedEnvelope, decodeEnvelope } from './decode-envelope.js';
import { msgpackCodec } from './msgpack-codec.js';

/** What {@link decodeEnvelopes} made of a batch. */
export interface DecodedEnvelopes<T> {
  /** The envelopes that decoded, in batch order, each as {@link decodeEnvelope} returns it. */
  readonly envelopes: Envelope<T>[];
  /** The ones that did not, in batch order, each with its `DecodeError` (naming subject, stream and sequence). */
  readonly failed: { readonly envelope: Envelope<Uint8Array>; readonly error: unknown }[];
}

/**
 * Decodes a batch of transport envelopes: the same envelopes and errors as {@link decodeEnvelope}
 * on each, but the payloads whose codec can (`decodeMany`: msgpack can) are decoded in one call.
 * When that call throws (a malformed payload among them), they are decoded one by one, so only
 * the bad ones fail. Never throws.
 */
export function decodeEnvelopes<T = unknown>(batch: readonly Envelope<Uint8Array>[], fallback: Codec = msgpackCodec): DecodedEnvelopes<T> {
  const decoded: (Envelope<T> | undefined)[] = new Array<Envelope<T> | undefined>(batch.length);
  const failed: { envelope: Envelope<Uint8Array>; error: unknown }[] = [];
  const one = (i: number): void => {
    try {
      decoded[i] = decodeEnvelope<T>(batch[i]!, fallback);
    } catch (error) {
      failed.push({ envelope: batch[i]!, error });
    }
  };
  // Indexes of the payloads that go into one call, grouped by codec (usually one group).
  const groups = new Map<Codec, number[]>();
  for (let i = 0; i < batch.length; i++) {
    const codec = codecFor(batch[i]!.headers[HEADERS.contentType], fallback);
    if (codec?.decodeMany === undefined) continue;
    let group = groups.get(codec);
    if (group === undefined) groups.set(codec, (group = []));
    group.push(i);
  }
  for (const [codec, indexes] of groups) {
    let values: unknown[] | undefined;
    try {
      values = codec.decodeMany!(indexes.map((i) => batch[i]!.data));
    } catch {
      values = undefined; // decoded one by one below, which names the bad ones
    }
    if (values === undefined || values.length !== indexes.length) continue;
    for (let k = 0; k < indexes.length; k++) decoded[indexes[k]!] = decodedEnvelope(batch[indexes[k]!]!, values[k] as T);
  }
  const envelopes: Envelope<T>[] = [];
  for (let i = 0; i < batch.length; i++) {
    if (decoded[i] === undefined) one(i);
    const env = decoded[i];
    if (env !== undefined) envelopes.push(env);
  }
  // `one` pushed failures in batch order already.
  return { envelopes, failed };
}
