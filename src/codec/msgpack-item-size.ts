/**
 * Bytes taken by a MessagePack item whose size its first byte alone gives (0 for the rest:
 * str/bin/ext with a length field, float64 and fixext1, which the scans look into). A container
 * header counts as its header only: its items follow as items of their own, so a scan never
 * needs to recurse.
 */
export const MSGPACK_FIXED_SIZE: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let b = 0x00; b <= 0x9f; b++) t[b] = 1; // positive fixint, fixmap, fixarray
  for (let b = 0xa0; b <= 0xbf; b++) t[b] = 1 + (b & 0x1f); // fixstr
  for (let b = 0xe0; b <= 0xff; b++) t[b] = 1; // negative fixint
  const sizes: Record<number, number> = {
    0xc0: 1,
    0xc1: 1,
    0xc2: 1,
    0xc3: 1,
    0xca: 5,
    0xcc: 2,
    0xcd: 3,
    0xce: 5,
    0xcf: 9,
    0xd0: 2,
    0xd1: 3,
    0xd2: 5,
    0xd3: 9,
    0xd5: 4,
    0xd6: 6,
    0xd7: 10,
    0xd8: 18,
    0xdc: 3,
    0xdd: 5,
    0xde: 3,
    0xdf: 5,
  };
  for (const [b, n] of Object.entries(sizes)) t[Number(b)] = n;
  return t;
})();

/** Whether the int64/uint64 at `i` (first byte `b`, 0xcf or 0xd3) holds a value beyond ±2^53, which needs a BigInt. */
export function isBeyondSafeInteger(bytes: Uint8Array, i: number, b: number): boolean {
  const hi = (bytes[i + 1]! << 24) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 8) | bytes[i + 4]!; // signed
  return b === 0xcf ? hi >>> 0 >= 0x20_0000 : hi >= 0x20_0000 || hi < -0x20_0000;
}

/**
 * Whether the extension at `i` (first byte `b`: fixext 0xd4-0xd8 or ext 0xc7-0xc9) is the standard
 * timestamp (type -1, 4, 8 or 12 bytes): fixext 4 or 8, or ext 8 of length 12, of type -1. The
 * only extension Sluice's wire format has.
 */
export function isTimestampExtension(bytes: Uint8Array, i: number, b: number): boolean {
  if (b === 0xd6 || b === 0xd7) return bytes[i + 1] === 0xff;
  return b === 0xc7 && bytes[i + 1] === 12 && bytes[i + 2] === 0xff;
}
