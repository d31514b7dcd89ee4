import type { Routed } from '../../operators/route.js';

/** Stays under nats-server's default max_payload (1 MiB) with room for the header. */
export const MAX_BATCH_PAYLOAD_BYTES = 1_000_000;

/**
 * Output messages for a batch of routed events: per target, MessagePack arrays (array32 header)
 * of the events' original bytes, concatenated without re-encoding, split so no message exceeds
 * `maxBytes`. Any msgpack reader decodes one as an array of order events.
 */
export function batchPayloads<T>(batch: readonly Routed<T>[], maxBytes = MAX_BATCH_PAYLOAD_BYTES): [string, Uint8Array][] {
  const groups = new Map<string, Uint8Array[]>();
  for (const r of batch) {
    const raw = r.envelope.raw;
    if (raw === undefined) continue;
    let g = groups.get(r.to);
    if (g === undefined) groups.set(r.to, (g = []));
    g.push(raw);
  }
  const out: [string, Uint8Array][] = [];
  for (const [to, parts] of groups) {
    let from = 0;
    while (from < parts.length) {
      let size = 5;
      let end = from;
      // At least one event per message, however large.
      while (end < parts.length && (end === from || size + parts[end]!.length <= maxBytes)) size += parts[end++]!.length;
      out.push([to, concatArray(parts, from, end, size)]);
      from = end;
    }
  }
  return out;
}

function concatArray(parts: readonly Uint8Array[], from: number, end: number, size: number): Uint8Array {
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
