import { OUTBOX_HEADER_BYTES, OUTBOX_VERSION } from './outbox-codec.js';
import type { AckMessageSource, AckPublishMessage } from '../transport/transport.js';

/**
 * Walks an outbox blob's entries in order without building an entry object each: after `next()`
 * the fields hold the current entry. `data` is a view of the blob (not a copy), valid while the
 * blob is: use it only on blobs the caller owns (the writer's, or a copy of LMDB's).
 */
export class OutboxReader implements AckMessageSource {
  seq = 0;
  index = 0;
  subject = '';
  data: Uint8Array = new Uint8Array(0);
  headers: Readonly<Record<string, string>> | undefined;
  /** Entries not yet read. */
  remaining: number;
  private readonly buf: Buffer;
  private offset = OUTBOX_HEADER_BYTES;
  private readonly cursor: OutboxCursor;

  /**
   * @param msgIdPrefix `<topology>.<engine>.`, for the ids of {@link messageAt}'s messages.
   * @throws Error on a blob of another version.
   */
  constructor(blob: Uint8Array, msgIdPrefix = '') {
    this.buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
    this.cursor = new OutboxCursor(this.buf, msgIdPrefix);
    if (this.buf.length < OUTBOX_HEADER_BYTES || this.buf.readUInt8(0) !== OUTBOX_VERSION) {
      throw new Error(`outbox blob has unknown version ${this.buf.length > 0 ? this.buf.readUInt8(0) : 'none'}`);
    }
    this.remaining = this.buf.readUInt32BE(1);
  }

  /**
   * Skips the next entry and returns its offset in the blob, for {@link messageAt}; -1 when there
   * is none. An output waiting for its ack (and a possible re-send) is then just this number.
   */
  nextAt(): number {
    if (this.remaining === 0) return -1;
    const buf = this.buf;
    const at = this.offset;
    let o = at + 12;
    o += 2 + buf.readUInt16BE(o);
    o += 4 + buf.readUInt32BE(o);
    this.offset = o + 4 + buf.readUInt32BE(o);
    this.remaining -= 1;
    return at;
  }

  /**
   * The entry at offset `at` (from {@link nextAt}) as a message whose fields are decoded when read,
   * with id `<msgIdPrefix><seq>.<index>`. The one cursor of this reader: valid until the next call.
   */
  messageAt(at: number): AckPublishMessage {
    this.cursor.at = at;
    return this.cursor;
  }

  /** Reads the next entry into the fields; false when there is none. */
  next(): boolean {
    if (this.remaining === 0) return false;
    const buf = this.buf;
    let o = this.offset;
    this.seq = buf.readDoubleBE(o);
    this.index = buf.readUInt32BE(o + 8);
    o += 12;
    const sLen = buf.readUInt16BE(o);
    this.subject = buf.toString('utf8', o + 2, o + 2 + sLen);
    o += 2 + sLen;
    const hLen = buf.readUInt32BE(o);
    this.headers = hLen === 0 ? undefined : (JSON.parse(buf.toString('utf8', o + 4, o + 4 + hLen)) as Record<string, string>);
    o += 4 + hLen;
    const dLen = buf.readUInt32BE(o);
    this.data = buf.subarray(o + 4, o + 4 + dLen);
    this.offset = o + 4 + dLen;
    this.remaining -= 1;
    return true;
  }
}

/** The entry at `at` of an outbox blob as an {@link AckPublishMessage}, decoded on each read. */
class OutboxCursor implements AckPublishMessage {
  /** The entry's first byte. */
  at = 0;

  constructor(
    private readonly buf: Buffer,
    private readonly msgIdPrefix: string,
  ) {}

  get msgId(): string {
    return `${this.msgIdPrefix}${this.buf.readDoubleBE(this.at)}.${this.buf.readUInt32BE(this.at + 8)}`;
  }

  get subject(): string {
    const o = this.at + 12;
    return this.buf.toString('utf8', o + 2, o + 2 + this.buf.readUInt16BE(o));
  }

  get headers(): Readonly<Record<string, string>> | undefined {
    const o = this.at + 14 + this.buf.readUInt16BE(this.at + 12);
    const hLen = this.buf.readUInt32BE(o);
    return hLen === 0 ? undefined : (JSON.parse(this.buf.toString('utf8', o + 4, o + 4 + hLen)) as Record<string, string>);
  }

  get data(): Uint8Array {
    let o = this.at + 14 + this.buf.readUInt16BE(this.at + 12);
    o += 4 + this.buf.readUInt32BE(o);
    return this.buf.subarray(o + 4, o + 4 + this.buf.readUInt32BE(o));
  }
}
