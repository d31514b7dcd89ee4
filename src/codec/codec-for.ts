import { InvalidConfigError } from '../errors.js';
import type { Codec } from './codec.js';
import { jsonCodec } from './json-codec.js';
import { msgpackCodec } from './msgpack-codec.js';

const byContentType = new Map<string, Codec>([
  [msgpackCodec.contentType, msgpackCodec],
  ['application/x-msgpack', msgpackCodec],
  [jsonCodec.contentType, jsonCodec],
]);

/** The names a user may give a codec in configuration. */
export type CodecName = 'msgpack' | 'json';

/** Looks a codec up by short name (`msgpack`, `json`). */
export function codecNamed(name: CodecName): Codec {
  if (name === 'msgpack') return msgpackCodec;
  if (name === 'json') return jsonCodec;
  throw new InvalidConfigError('codec', 'name', `must be 'msgpack' or 'json', got ${JSON.stringify(name)}`);
}

/**
 * The codec for a `Content-Type` header value (parameters such as `; charset=utf-8` ignored), or
 * `fallback` when the header is absent. Returns undefined for a content type Sluice cannot read.
 */
export function codecFor(contentType: string | undefined, fallback: Codec = msgpackCodec): Codec | undefined {
  if (contentType === undefined || contentType === '') return fallback;
  return byContentType.get(contentType.split(';')[0]!.trim().toLowerCase());
}
