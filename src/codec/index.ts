export type { Codec } from './codec.js';
export { msgpackCodec } from './msgpack-codec.js';
export { jsonCodec } from './json-codec.js';
export { codecFor, codecNamed } from './codec-for.js';
export type { CodecName } from './codec-for.js';
export { decodeEnvelope } from './decode-envelope.js';
