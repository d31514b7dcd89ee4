const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const encoder = new TextEncoder();

/**
 * 32-bit FNV-1a of the key's UTF-8 bytes. Stable across processes, versions and platforms, which
 * is what lets a partition's keys move to another instance later: never change it.
 */
export function fnv1a32(key: string): number {
  let h = FNV_OFFSET;
  // ASCII keys (the common case) hash without allocating; others go through their UTF-8 bytes.
  let ascii = true;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c > 0x7f) {
      ascii = false;
      break;
    }
    h = Math.imul(h ^ c, FNV_PRIME);
  }
  if (ascii) return h >>> 0;
  h = FNV_OFFSET;
  for (const b of encoder.encode(key)) h = Math.imul(h ^ b, FNV_PRIME);
  return h >>> 0;
}

/** The partition of `key`: `fnv1a32(key) % partitions`. */
export function partitionOf(key: string, partitions: number): number {
  return fnv1a32(key) % partitions;
}
