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
