import { isBeyondSafeInteger, isTimestampExtension, MSGPACK_FIXED_SIZE } from './msgpack-item-size.js';
import { variableSize } from './standardize-msgpack.js';

/**
 * Checks a payload before msgpackr decodes it, in one pass over the bytes:
 *
 * - throws when it uses a MessagePack extension other than the standard timestamp (type -1, 4, 8
 *   or 12 bytes): msgpackr would turn other types into whatever its own extensions mean (a Set,
 *   an Error, a RegExp, `undefined`...), which is not what the sender meant;
 * - returns whether an int64/uint64 holds a value beyond ±2^53, the only case that needs BigInts
 *   (msgpackr's exact mode makes a BigInt for every 64-bit integer first, ~4x slower).
 *
 * Truncated input is left for the decoder to report.
 */
export function checkMsgpack(bytes: Uint8Array): boolean {
  const n = bytes.length;
  let bigInts = false;
  let i = 0;
  while (i < n) {
    const b = bytes[i]!;
    // Most items (fixints, fixstr, maps, arrays, floats) step by a size their first byte gives:
    // one table read and nothing else to look at.
    const plain = PLAIN_SIZE[b]!;
    if (plain !== 0) {
      i += plain;
      continue;
    }
    const fixed = MSGPACK_FIXED_SIZE[b]!;
    if (fixed !== 0) {
      if (b >= 0xd5 && b <= 0xd8) {
        if (!isTimestampExtension(bytes, i, b)) throw foreign(bytes[i + 1], i);
      } else if (b === 0xcf || b === 0xd3) {
        if (isBeyondSafeInteger(bytes, i, b)) bigInts = true;
      }
      i += fixed;
      continue;
    }
    if (b === 0xd4) throw foreign(bytes[i + 1], i);
    if ((b === 0xc7 || b === 0xc8 || b === 0xc9) && !isTimestampExtension(bytes, i, b)) {
      throw foreign(bytes[b === 0xc7 ? i + 2 : b === 0xc8 ? i + 3 : i + 5], i);
    }
    i += variableSize(bytes, i, b);
  }
  return bigInts;
}

/** The fixed sizes of the items this check has nothing to look into (0 for the rest, which it does). */
const PLAIN_SIZE: Uint8Array = (() => {
  const t = MSGPACK_FIXED_SIZE.slice();
  for (const b of [0xcf, 0xd3, 0xd5, 0xd6, 0xd7, 0xd8]) t[b] = 0;
  t[0xcb] = 9; // float64
  return t;
})();

function foreign(type: number | undefined, at: number): Error {
  const what =
    type === 0xff
      ? 'a timestamp (type -1) of a length the spec does not define'
      : `extension type ${type === undefined ? '(truncated)' : type > 127 ? type - 256 : type}`;
  return new Error(`${what} at byte ${at}: Sluice's wire format has no MessagePack extension but the timestamp (type -1, 4, 8 or 12 bytes)`);
}
