import { OUTBOX_HEADER_BYTES, OUTBOX_VERSION } from './outbox-codec.js';

const MIN_INITIAL_BYTES = 16 * 1024;
const MAX_INITIAL_BYTES = 4 * 1024 * 1024;
// Batches of one process tend to be alike: the next writer starts at the size the last one reached,
// rather than growing (and copying) 16 → 32 → 64 → 128 KiB again for every batch.
let sizeHint = MIN_INITIAL_BYTES;

/**
 * Builds one outbox blob (the layout {@link encodeOutbox} documents) an output at a time, as
 * `emit` is called: the batch's outputs go straight into the bytes the outbox stores and the
 * publisher reads, so no per-output object lives from `emit` to the ack and there is no second
 * encoding pass at commit. The caller's subject string and data buffer can die young.
 */
export class OutboxWriter {
  private buf: Buffer = Buffer.allocUnsafe(sizeHint);
  private length = OUTBOX_HEADER_BYTES;
  /** Outputs written so far. */
  count = 0;

  add(seq: number, index: number, subject: string, data: Uint8Array, headers?: Readonly<Record<string, string>>): void {
    let h: string | undefined;
    if (headers !== undefined) {
      // for...in: no array of keys per output; most outputs have no headers at all.
      for (const _ in headers) {
        h = JSON.stringify(headers);
        break;
      }
    }
    // UTF-8 needs at most 3 bytes per UTF-16 unit.
    this.reserve(12 + 2 + 3 * subject.length + 4 + (h === undefined ? 0 : 3 * h.length) + 4 + data.length);
    const buf = this.buf;
    let o = buf.writeDoubleBE(seq, this.length);
    o = buf.writeUInt32BE(index, o);
    const subjectLen = buf.write(subject, o + 2);
    buf.writeUInt16BE(subjectLen, o);
    o += 2 + subjectLen;
    const hLen = h === undefined ? 0 : buf.write(h, o + 4);
    buf.writeUInt32BE(hLen, o);
    o += 4 + hLen;
    o = buf.writeUInt32BE(data.length, o);
    buf.set(data, o);
    this.length = o + data.length;
    this.count += 1;
  }

  /** The blob (a view of the writer's buffer: the writer must not be used afterwards). */
  finish(): Uint8Array {
    this.buf.writeUInt8(OUTBOX_VERSION, 0);
    this.buf.writeUInt32BE(this.count, 1);
    sizeHint = Math.min(MAX_INITIAL_BYTES, Math.max(MIN_INITIAL_BYTES, this.length + (this.length >> 3)));
    return this.buf.subarray(0, this.length);
  }

  private reserve(bytes: number): void {
    const need = this.length + bytes;
    if (need <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
}
