import type { Codec } from './codec.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 JSON, for services that prefer it. `undefined` encodes as `null`. */
export const jsonCodec: Codec = {
  contentType: 'application/json',
  encode: (value) => encoder.encode(JSON.stringify(value ?? null)),
  decode: (bytes) => JSON.parse(decoder.decode(bytes)) as unknown,
};
