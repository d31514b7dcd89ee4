/**
 * `parts[from..end)` as one MessagePack array (array32 header, then each part's bytes as they
 * are): how the batch modes, Sluice's and the hand-written one, send a batch without re-encoding.
 * `size` is 5 + the parts' total length.
 */
export function concatArray32(parts: readonly Uint8Array[], from: number, end: number, size: number): Uint8Array {
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 0xdd;
  buf.writeUInt32BE(end - from, 1);
  let at = 5;
  for (let i = from; i < end; i++) {
    buf.set(parts[i]!, at);
    at += parts[i]!.length;
  }
  return buf;
}
