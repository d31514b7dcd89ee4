import { isBeyondSafeInteger, isTimestampExtension, MSGPACK_FIXED_SIZE } from './msgpack-item-size.js';
import { u32, variableSize } from './standardize-msgpack.js';

/**
 * Whether `bytes` hold exactly one complete MessagePack item that the fast decoder reads as
 * `msgpackCodec.decode` would: nothing missing, nothing after it, no 0xC1 (the byte the spec
 * never uses), no extension but the standard timestamp, no 64-bit integer past ±2^53 (those need
 * the exact decoder's BigInts). Payloads concatenated for one bulk decode must each pass, in one
 * pass over their bytes: a truncated or overlong one would not fail on its own but shift every
 * item after it. A payload that does not pass is decoded alone, which reports or handles it.
 */
export function isPlainMsgpackItem(bytes: Uint8Array): boolean {
  const n = bytes.length;
  // Items still to read: a container header adds its items (a map two per entry) as it is passed.
  let pending = 1;
  let i = 0;
  while (pending > 0) {
    if (i >= n) return false;
    const b = bytes[i]!;
    pending--;
    if (b >= 0x80 && b <= 0x9f) pending += b <= 0x8f ? 2 * (b & 0x0f) : b & 0x0f;
    else if (b >= 0xc1 && b <= 0xdf) {
      if (b === 0xc1) return false;
      if (b >= 0xdc) {
        if (i + (b & 1 ? 5 : 3) > n) return false;
        const count = b & 1 ? u32(bytes, i + 1) : (bytes[i + 1]! << 8) | bytes[i + 2]!;
        pending += b >= 0xde ? 2 * count : count;
      } else if (b === 0xcf || b === 0xd3) {
        if (isBeyondSafeInteger(bytes, i, b)) return false;
      } else if ((b >= 0xd4 && b <= 0xd8) || (b >= 0xc7 && b <= 0xc9)) {
        if (!isTimestampExtension(bytes, i, b)) return false;
      }
    }
    const fixed = MSGPACK_FIXED_SIZE[b]!;
    i += fixed !== 0 ? fixed : variableSize(bytes, i, b);
  }
  return i === n;
}
