import { MSGPACK_FIXED_SIZE } from './msgpack-item-size.js';
import { variableSize } from './standardize-msgpack.js';

/**
 * Whether `bytes` hold exactly one complete MessagePack item: nothing missing, nothing after it,
 * no 0xC1 (the byte the spec never uses). Bytes concatenated for one bulk decode must each pass:
 * a truncated or overlong one would not fail on its own but shift every item after it.
 */
export function isOneMsgpackItem(bytes: Uint8Array): boolean {
  const n = bytes.length;
  // Items still to read: a container header adds its items (a map two per entry) as it is passed.
  let pending = 1;
  let i = 0;
  while (pending > 0) {
    if (i >= n) return false;
    const b = bytes[i]!;
    if (b === 0xc1) return false;
    pending--;
    if (b >= 0x80 && b <= 0x9f) pending += b <= 0x8f ? 2 * (b & 0x0f) : b & 0x0f;
    else if (b >= 0xdc && b <= 0xdf) {
      if (i + (b & 1 ? 5 : 3) > n) return false;
      const count = b & 1 ? u32(bytes, i + 1) : (bytes[i + 1]! << 8) | bytes[i + 2]!;
      pending += b >= 0xde ? 2 * count : count;
    }
    const fixed = MSGPACK_FIXED_SIZE[b]!;
    i += fixed !== 0 ? fixed : variableSize(bytes, i, b);
  }
  return i === n;
}

function u32(bytes: Uint8Array, i: number): number {
  return ((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0;
}
