/**
 * Recovery of one `fileBatchBuffer` segment file, when the buffer is created on a directory that
 * has files: every record read back once and checked (length, CRC), the committed values counted
 * and indexed, a commit torn by a crash at the tail of the last file cut, damage anywhere else
 * refused with {@link BatchBufferCorruptError}. Apart from the buffer because it runs once, at
 * start-up, and shares nothing with the writer and the reader but the record format
 * (`batch-file-record.ts`) and the index spacing ({@link INDEX_EVERY}).
 */
import { fdatasyncSync, fstatSync, ftruncateSync } from 'node:fs';
import { HEADER_BYTES, isRecordKind, KIND_END, KIND_SEAL, packr, readRecordHeader, recordCrcMatches, recordValues, unpackSeal } from './batch-file-record.js';
import { readFully } from './read-fully.js';
import { BatchBufferCorruptError } from './state-errors.js';

/** An index entry (offset of a record, index of its first value) at least every this many values. */
export const INDEX_EVERY = 256;

/** What {@link scanBatchFile} finds in a segment file: its whole commits, counted and indexed. */
export interface ScannedBatchFile {
  /** It ends with a seal record. */
  readonly sealed: boolean;
  /** Bytes of whole, committed records (without the seal record). */
  readonly size: number;
  /** Values committed. */
  readonly count: number;
  readonly firstSeq: number | undefined;
  readonly lastSeq: number | undefined;
  /** Record offsets and the index of their first value, one at least every INDEX_EVERY values. */
  readonly indexOffset: number[];
  readonly indexFirst: number[];
}

/** How {@link scanBatchFile} reads a segment file. */
export interface ScanBatchFileOptions<T> {
  /** The file is the buffer's last one: a bad record at its tail is a torn commit. */
  readonly isLast: boolean;
  /** Stream sequence of a value, for `firstSeq`/`lastSeq`. */
  readonly seqOf: (value: T) => number | undefined;
  /** fdatasync the file after cutting a torn tail. */
  readonly sync: boolean;
}

/**
 * Reads every record of a segment file (open read-write as `fd`) once, checking lengths and CRCs,
 * and returns its count, positions and index, and whether it ends with a seal. A bad record at
 * the tail of the last file is a torn commit: cut (the file truncated to its last whole commit).
 * Anywhere else: corrupt.
 * @throws BatchBufferCorruptError (naming `path` and the record's offset) for a bad record not at
 * the tail of the last file, a values record with fewer values than its header says, or a seal
 * whose count is not the file's.
 */
export function scanBatchFile<T>(fd: number, path: string, { isLast, seqOf, sync }: ScanBatchFileOptions<T>): ScannedBatchFile {
  const fileSize = fstatSync(fd).size;
  const indexOffset: number[] = [];
  const indexFirst: number[] = [];
  let pos = 0;
  let committed = { size: 0, count: 0, firstSeq: undefined as number | undefined, lastSeq: undefined as number | undefined };
  let pendingCount = 0;
  let pendingFirst: number | undefined;
  let pendingLast: number | undefined;
  const pendingIndex: [number, number][] = [];
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  let body = Buffer.allocUnsafe(64 * 1024);
  const found = (sealed: boolean): ScannedBatchFile => ({ sealed, ...committed, indexOffset, indexFirst });
  const bad = (reason: string): ScannedBatchFile => {
    if (!isLast) throw new BatchBufferCorruptError(path, pos, reason);
    // Torn tail: cut back to the last whole commit.
    ftruncateSync(fd, committed.size);
    if (sync) fdatasyncSync(fd);
    return found(false);
  };
  for (;;) {
    if (pos === fileSize) {
      if (pendingCount > 0 || pos !== committed.size) return bad('a commit without its end record');
      return found(false);
    }
    if (readFully(fd, header, HEADER_BYTES, pos) < HEADER_BYTES) return bad('a record header cut short');
    const record = readRecordHeader(header, 0);
    if (record === undefined || !isRecordKind(record.kind)) return bad('not a record header');
    const { kind, count, length } = record;
    if (pos + HEADER_BYTES + length > fileSize) return bad(`a record of ${length} bytes cut short`);
    if (body.length < length) body = Buffer.allocUnsafe(length);
    readFully(fd, body, length, pos + HEADER_BYTES);
    const view = body.subarray(0, length);
    if (!recordCrcMatches(header, 0, view)) return bad('a record whose CRC does not match');
    if (kind === KIND_SEAL) {
      if (pendingCount > 0) return bad('a seal inside a commit');
      const info = unpackSeal(view);
      if (info.count !== committed.count) throw new BatchBufferCorruptError(path, pos, `a seal of ${info.count} values after ${committed.count}`);
      return found(true);
    }
    const first = committed.count + pendingCount;
    const lastIndexed = indexFirst.length === 0 ? -Infinity : indexFirst[indexFirst.length - 1]!;
    const lastPending = pendingIndex.length === 0 ? lastIndexed : pendingIndex[pendingIndex.length - 1]![1];
    if (first - lastPending >= INDEX_EVERY || (first === 0 && lastPending === -Infinity)) pendingIndex.push([pos, first]);
    if (count > 0) {
      const values = recordValues(view, count, path, pos);
      if (first === 0) pendingFirst = seqOf(packr.unpack(values[0]!) as T);
      pendingLast = seqOf(packr.unpack(values[values.length - 1]!) as T);
    }
    pendingCount += count;
    pos += HEADER_BYTES + length;
    if (kind === KIND_END) {
      committed = {
        size: pos,
        count: committed.count + pendingCount,
        firstSeq: committed.count === 0 && pendingCount > 0 ? pendingFirst : committed.firstSeq,
        lastSeq: pendingCount > 0 ? pendingLast : committed.lastSeq,
      };
      for (const [o, f] of pendingIndex) {
        indexOffset.push(o);
        indexFirst.push(f);
      }
      pendingIndex.length = 0;
      pendingCount = 0;
    }
  }
}
