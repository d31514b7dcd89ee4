import { msgpackCodec } from '../../src/codec/msgpack-codec.js';

/**
 * Default byte size of a batch element: the original bytes when the element is an envelope that
 * kept them (`raw`), the length of a byte or string payload, else the length of the payload
 * encoded as MessagePack. The estimate matters only when a byte limit is set.
 */
export function batchSizeOf(value: unknown): number {
  if (value instanceof Uint8Array) return value.length;
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (typeof value === 'object' && value !== null) {
    const maybe = value as { raw?: unknown; data?: unknown };
    if (maybe.raw instanceof Uint8Array) return maybe.raw.length;
    if ('data' in maybe) return payloadSize(maybe.data);
  }
  return payloadSize(value);
}

function payloadSize(data: unknown): number {
  if (data instanceof Uint8Array) return data.length;
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (data === undefined) return 0;
  return msgpackCodec.encode(data).length;
}
