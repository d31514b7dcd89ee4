/**
 * The on-disk record format of `fileBatchBuffer`'s segment files: the header layout, the record
 * kinds, the CRC, and the encoding of a values body and a seal body. Apart from the buffer so the
 * format is in one place that the writer (`fileBatchBuffer`'s appends and seals), the reader (its
 * `read`) and recovery (`scanBatchFile`) all share, and so it can be checked on its own, without
 * files.
 *
 * Record layout (little-endian): a 20-byte header, then the body.
 * - 0: magic `SLBF`; 4: kind; 5-7: zero; 8: u32 values in the record (a seal: the segment's);
 *   12: u32 body bytes; 16: u32 CRC-32 of bytes 4-15 and the body.
 * - values body: per value a u32 length and its MessagePack bytes.
 * - seal body: MessagePack `{ count, firstSeq, lastSeq }`.
 * A commit is one or more MORE records closed by an END record: recovery keeps a commit only when
 * its END record is whole, so a commit torn by a crash is cut as a whole.
 */
import { crc32 } from 'node:zlib';
import { Packr } from 'msgpackr';
import { BatchBufferCorruptError } from './state-errors.js';

const MAGIC = 0x46424c53;
export const HEADER_BYTES = 20;
export const KIND_MORE = 1;
export const KIND_END = 2;
export const KIND_SEAL = 3;

// Standard MessagePack (maps, bytes as bytes): a value reads back as it was appended.
const MSGPACK = { useRecords: false, moreTypes: false, mapsAsObjects: true, variableMapSize: true } as const;
export const packr = new Packr(MSGPACK);
/** Decodes bytes as views of the buffer read: see `fileBatchBuffer`'s `read`. */
export const viewPackr = new Packr({ ...MSGPACK, copyBuffers: false });

/** The fields of a record header after its magic. */
export interface RecordHeader {
  readonly kind: number;
  /** Values in the record (a seal: the segment's). */
  readonly count: number;
  /** Body bytes. */
  readonly length: number;
}

/** What a seal record's body holds: the sealed segment's count and stream sequences. */
export interface SealInfo {
  readonly count: number;
  readonly firstSeq?: number | undefined;
  readonly lastSeq?: number | undefined;
}

/**
 * Fills in the header of the record at `at` in `out`, its body already written after it (at
 * `at + HEADER_BYTES`, `length` bytes); returns the record's end.
 */
export function writeRecordHeader(out: Buffer, at: number, kind: number, count: number, length: number): number {
  out.writeUInt32LE(MAGIC, at);
  out[at + 4] = kind;
  out[at + 5] = 0;
  out[at + 6] = 0;
  out[at + 7] = 0;
  out.writeUInt32LE(count, at + 8);
  out.writeUInt32LE(length, at + 12);
  out.writeUInt32LE(recordCrc(out.subarray(at + 4, at + 16), out.subarray(at + HEADER_BYTES, at + HEADER_BYTES + length)), at + 16);
  return at + HEADER_BYTES + length;
}

/**
 * The header at `at` in `buf`, or undefined when it does not start with the magic. Its kind is
 * not checked (see {@link isRecordKind}), nor its CRC (see {@link recordCrcMatches}).
 */
export function readRecordHeader(buf: Buffer, at: number): RecordHeader | undefined {
  if (buf.readUInt32LE(at) !== MAGIC) return undefined;
  return { kind: buf[at + 4]!, count: buf.readUInt32LE(at + 8), length: buf.readUInt32LE(at + 12) };
}

/** Whether `kind` is one a record may have. */
export function isRecordKind(kind: number): boolean {
  return kind === KIND_MORE || kind === KIND_END || kind === KIND_SEAL;
}

/** Whether the CRC in the header at `at` in `buf` matches that header and `body`. */
export function recordCrcMatches(buf: Buffer, at: number, body: Uint8Array): boolean {
  return recordCrc(buf.subarray(at + 4, at + 16), body) === buf.readUInt32LE(at + 16);
}

/** A record's CRC-32: over its header fields after the magic (kind, count, length: bytes 4-15), then its body. */
function recordCrc(fields: Uint8Array, body: Uint8Array): number {
  return crc32(body, crc32(fields));
}

/**
 * The values' bytes of a values record body, checked against its length prefixes.
 * @throws BatchBufferCorruptError (naming `path` and the record's offset `at`) when the body holds
 * fewer than `count` values.
 */
export function recordValues(body: Buffer, count: number, path: string, at: number): Buffer[] {
  const out: Buffer[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 4 > body.length) throw new BatchBufferCorruptError(path, at, `a record with fewer than its ${count} values`);
    const len = body.readUInt32LE(p);
    if (p + 4 + len > body.length) throw new BatchBufferCorruptError(path, at, `a record with fewer than its ${count} values`);
    out.push(body.subarray(p + 4, p + 4 + len));
    p += 4 + len;
  }
  return out;
}

/** The body of a seal record. */
export function packSeal(info: SealInfo): Buffer {
  return packr.pack({ count: info.count, firstSeq: info.firstSeq, lastSeq: info.lastSeq });
}

/** What the body of a seal record holds. */
export function unpackSeal(body: Uint8Array): SealInfo {
  return packr.unpack(body) as SealInfo;
}
