/**
 * Turns values into bytes and back. The content type travels in the `Content-Type` header so
 * services in other languages know how to decode a payload.
 */
export interface Codec {
  /** MIME type written to the `Content-Type` header, e.g. `application/msgpack`. */
  readonly contentType: string;
  encode(value: unknown): Uint8Array;
  /** Throws on malformed input; callers wrap the error in a `DecodeError` with the origin. */
  decode(bytes: Uint8Array): unknown;
  /**
   * Decodes several payloads at once, in order: the same values as `decode` on each, for less
   * work per payload (one call into the decoder for a whole batch). Throws when any payload is
   * malformed, without saying which: callers then decode one by one to find it. Optional.
   */
  decodeMany?(payloads: readonly Uint8Array[]): unknown[];
}
