import { closeSync, fdatasyncSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidConfigError } from '../errors.js';
import { defaultSeqOf, type BatchBuffer, type SealedSegment } from './batch-buffer.js';
import {
  HEADER_BYTES,
  KIND_END,
  KIND_MORE,
  KIND_SEAL,
  packr,
  packSeal,
  readRecordHeader,
  recordCrcMatches,
  viewPackr,
  writeRecordHeader,
} from './batch-file-record.js';
import { claimStateDirectory } from './claim-state-directory.js';
import { readFully } from './read-fully.js';
import { INDEX_EVERY, scanBatchFile } from './scan-batch-file.js';
import { BatchBufferCorruptError } from './state-errors.js';

/** Options of {@link fileBatchBuffer}. */
export interface FileBatchBufferConfig<T> {
  /**
   * A directory of its own for this one buffer (created): one segment file per batch, named
   * `<batch number>.seg`. One process at a time (a second live process is refused).
   */
  dir: string;
  /** Stream sequence of a value, for `firstSeq`/`lastSeq`. Default: `value.seq` when it is a number. */
  seqOf?: ((value: T) => number | undefined) | undefined;
  /**
   * Skip fdatasync: an append then survives a crash of the process but not of the machine. For
   * tests; never in production. Default false.
   */
  noSync?: boolean | undefined;
}

/** A file-backed {@link BatchBuffer}, plus a bulk append and a close. */
export interface FileBatchBuffer<T> extends BatchBuffer<T> {
  /** Appends all `values` as ONE commit: one write and one fdatasync. */
  appendAll(values: Iterable<T>): void;
  /** Closes the open files and gives up the directory (after the pipeline using it stopped). Idempotent. */
  close(): void;
}

/** Values per record at most (and bytes, 1 MiB): the granularity of a read and of a CRC check. */
const RECORD_VALUES = 256;
const RECORD_BYTES = 1024 * 1024;
const FILE = /^(\d{10})\.seg$/;

/** Reads of up to this many bytes reuse one buffer; a larger one is dropped after its read. */
const KEEP_READ_BYTES = 8 * 1024 * 1024;

interface Segment {
  readonly seq: number;
  readonly path: string;
  fd: number;
  count: number;
  firstSeq: number | undefined;
  lastSeq: number | undefined;
  /** Bytes of whole, committed records (for a sealed segment, without its seal record). */
  size: number;
  /** Record offsets and the index of their first value, one at least every INDEX_EVERY values. */
  readonly indexOffset: number[];
  readonly indexFirst: number[];
  /** Its seal record is written: no more appends. */
  sealed: boolean;
  released: boolean;
}

/**
 * A durable {@link BatchBuffer} in plain append-only files: `batchUntil` acknowledges each input
 * once its value is written here and fdatasynced, and a batch of millions costs the process
 * little memory — values are written with write() and read back with read() one chunk at a time,
 * so the data lives in the kernel's page cache, which RSS does not count (an LMDB buffer reads
 * through a memory map: every page of a batch read back counts in RSS).
 *
 * - Holds in memory: an open file and one offset per ~256 values of each unreleased batch; the
 *   commit being written and the records being read, in buffers reused from call to call; the
 *   values a read returns, each decoded from a copy of its own bytes.
 * - Cost: each commit (`appendAll`, or `append` for one value) is one write and one fdatasync;
 *   `batchUntil` commits once per event-loop turn, at most 1000 values.
 * - On disk: a segment file per batch, length-prefixed records with a CRC-32 each; `seal` writes a
 *   seal record and creates the next batch's file; `release` deletes the batch's file.
 * - Recovery (when created on a directory that has files): sealed batches not released are
 *   returned by `unreleased()` (and re-emitted by `batchUntil`), the open batch keeps every value
 *   whose commit returned, the batch counter continues. A commit torn by a crash at the tail of
 *   the open batch is detected (length, CRC) and cut; a damaged record anywhere else throws
 *   {@link BatchBufferCorruptError}, as does a damaged record found by a read.
 * - Fails: the file system's errors (ENOSPC: disk full) from append/seal; the commit is then cut
 *   from the file and its inputs are redelivered.
 *
 * Not exactly-once on its own, like `lmdbBatchBuffer`: a value written but not yet acknowledged
 * upstream when the process dies is appended again on redelivery.
 *
 * ```ts
 * const buffer = fileBatchBuffer<Envelope<Order>>({ dir: join(stateDir, 'batch-orders') });
 * t.onStop(() => buffer.close());
 * orders$.pipe(batchUntil(onSubject(endOfDay$), { name: 'orders', buffer }), ...)
 * ```
 * @throws InvalidConfigError for a bad option; StateDirectoryInUseError when another live process
 * uses `dir`; BatchBufferCorruptError when recovery finds a damaged record before the tail.
 */
export function fileBatchBuffer<T>(config: FileBatchBufferConfig<T>): FileBatchBuffer<T> {
  if (typeof config.dir !== 'string' || config.dir === '')
    throw new InvalidConfigError('fileBatchBuffer', 'dir', `must be a directory path, got ${JSON.stringify(config.dir)}`);
  if (config.seqOf !== undefined && typeof config.seqOf !== 'function') throw new InvalidConfigError('fileBatchBuffer', 'seqOf', 'must be a function');
  const dir = config.dir;
  const sync = config.noSync !== true;
  const seqOf = config.seqOf ?? defaultSeqOf;
  mkdirSync(dir, { recursive: true });
  const unclaim = claimStateDirectory(dir);
  const sealed = new Map<number, Segment>();
  let open: Segment;
  let closed = false;
  // The commit being written, reused: it grows to the largest commit and stays.
  let out = Buffer.allocUnsafe(64 * 1024);
  // The chunk being read, reused likewise (values are copied out of it).
  let inBuf = Buffer.allocUnsafe(0);

  const syncDir = (): void => {
    if (!sync) return;
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  };
  const pathOf = (seq: number): string => join(dir, `${String(seq).padStart(10, '0')}.seg`);
  const create = (seq: number): Segment => {
    const path = pathOf(seq);
    const fd = openSync(path, 'w+');
    syncDir();
    return { seq, path, fd, count: 0, firstSeq: undefined, lastSeq: undefined, size: 0, indexOffset: [], indexFirst: [], sealed: false, released: false };
  };
  const writeAt = (fd: number, buf: Buffer, length: number, position: number): void => {
    let done = 0;
    while (done < length) done += writeSync(fd, buf, done, length - done, position + done);
  };
  const ensure = (bytes: number): void => {
    if (out.length >= bytes) return;
    const bigger = Buffer.allocUnsafe(Math.max(bytes, out.length * 2));
    out.copy(bigger);
    out = bigger;
  };
  const usable = (): void => {
    if (closed) throw new InvalidConfigError('fileBatchBuffer', 'dir', `buffer in ${dir} is closed`);
  };

  try {
    open = recover();
  } catch (err) {
    for (const s of sealed.values()) closeSync(s.fd);
    unclaim();
    throw err;
  }

  /** Reads the directory back: sealed segments into `sealed`, the open one returned. */
  function recover(): Segment {
    const seqs = readdirSync(dir)
      .map((f) => FILE.exec(f)?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    let last: Segment | undefined;
    for (const seq of seqs) {
      const isLast = seq === seqs[seqs.length - 1];
      const path = pathOf(seq);
      const fd = openSync(path, 'r+');
      const found = scanBatchFile(fd, path, { isLast, seqOf, sync });
      // Sealed below, once its seal record is sure to be there.
      const seg: Segment = { seq, path, fd, ...found, sealed: false, released: false };
      if (found.sealed || !isLast) {
        // An unsealed segment before the last one: its seal never happened (a seal is written
        // before the next file is created, so only damage gets here), yet its values were
        // committed — seal it now rather than lose them.
        if (!found.sealed) writeSeal(seg);
        seg.sealed = true;
        sealed.set(seq, seg);
      } else last = seg;
    }
    if (last !== undefined) return last;
    return create(seqs.length === 0 ? 1 : seqs[seqs.length - 1]! + 1);
  }

  /** Appends a seal record to `seg` (durably). */
  function writeSeal(seg: Segment): void {
    const body = packSeal(seg);
    ensure(HEADER_BYTES + body.length);
    body.copy(out, HEADER_BYTES);
    const end = writeRecordHeader(out, 0, KIND_SEAL, seg.count, body.length);
    writeCommit(seg, end);
  }

  /** Writes `out[0, length)` at the end of `seg` and syncs it; on failure cuts it off again. */
  function writeCommit(seg: Segment, length: number): void {
    try {
      writeAt(seg.fd, out, length, seg.size);
      if (sync) fdatasyncSync(seg.fd);
    } catch (err) {
      try {
        ftruncateSync(seg.fd, seg.size);
      } catch {
        // The error that matters is the write's; recovery cuts what is left.
      }
      throw err;
    }
  }

  const appendAll = (values: Iterable<T>): void => {
    usable();
    const seg = current();
    let at = 0; // start of the record being filled
    let pos = HEADER_BYTES; // end of what is filled
    let inRecord = 0;
    let added = 0;
    let firstSeq = seg.firstSeq;
    let lastSeq = seg.lastSeq;
    const index: [number, number][] = [];
    let lastIndexed = seg.indexFirst.length === 0 ? -Infinity : seg.indexFirst[seg.indexFirst.length - 1]!;
    const startRecord = (): void => {
      const first = seg.count + added;
      if (first - lastIndexed >= INDEX_EVERY || lastIndexed === -Infinity) {
        index.push([seg.size + at, first]);
        lastIndexed = first;
      }
    };
    ensure(HEADER_BYTES);
    startRecord();
    for (const value of values) {
      if (inRecord === RECORD_VALUES || (inRecord > 0 && pos - at - HEADER_BYTES >= RECORD_BYTES)) {
        at = writeRecordHeader(out, at, KIND_MORE, inRecord, pos - at - HEADER_BYTES);
        pos = at + HEADER_BYTES;
        inRecord = 0;
        ensure(pos);
        startRecord();
      }
      const body = packr.pack(value);
      ensure(pos + 4 + body.length + HEADER_BYTES);
      out.writeUInt32LE(body.length, pos);
      body.copy(out, pos + 4);
      pos += 4 + body.length;
      const s = seqOf(value);
      if (seg.count + added === 0) firstSeq = s;
      lastSeq = s;
      inRecord++;
      added++;
    }
    if (added === 0) return;
    const end = writeRecordHeader(out, at, KIND_END, inRecord, pos - at - HEADER_BYTES);
    writeCommit(seg, end);
    seg.size += end;
    seg.count += added;
    seg.firstSeq = firstSeq;
    seg.lastSeq = lastSeq;
    for (const [o, f] of index) {
      seg.indexOffset.push(o);
      seg.indexFirst.push(f);
    }
    // A large commit leaves a large buffer behind: give it back.
    if (out.length > 4 * RECORD_BYTES) out = Buffer.allocUnsafe(64 * 1024);
  };

  const read = (seg: Segment, from: number, size: number): T[] => {
    const start = Math.max(0, from);
    const end = Math.min(seg.count, start + Math.max(0, size));
    if (seg.released || start >= end) return [];
    // From the last index entry at or before `start` to the first one at or after `end`, in one read.
    const a = lastAtOrBefore(seg.indexFirst, start);
    const b = firstAtOrAfter(seg.indexFirst, end);
    const from0 = seg.indexOffset[a]!;
    const to = b < seg.indexOffset.length ? seg.indexOffset[b]! : seg.size;
    if (inBuf.length < to - from0) inBuf = Buffer.allocUnsafe(Math.max(to - from0, Math.min(KEEP_READ_BYTES, inBuf.length * 2)));
    const buf = inBuf.subarray(0, to - from0);
    if (inBuf.length > KEEP_READ_BYTES) inBuf = Buffer.allocUnsafe(0);
    if (readFully(seg.fd, buf, buf.length, from0) < buf.length) throw new BatchBufferCorruptError(seg.path, to, 'the file is shorter than its records');
    // First pass: check each record, note where the wanted values are.
    const spans: number[] = [];
    let pos = 0;
    let index = seg.indexFirst[a]!;
    while (pos < buf.length && index < end) {
      const at = from0 + pos;
      const record = readRecordHeader(buf, pos);
      if (record === undefined) throw new BatchBufferCorruptError(seg.path, at, 'not a record header');
      const { count, length } = record;
      const bodyEnd = pos + HEADER_BYTES + length;
      if (bodyEnd > buf.length) throw new BatchBufferCorruptError(seg.path, at, `a record of ${length} bytes cut short`);
      if (!recordCrcMatches(buf, pos, buf.subarray(pos + HEADER_BYTES, bodyEnd)))
        throw new BatchBufferCorruptError(seg.path, at, 'a record whose CRC does not match');
      if (index + count > start) {
        let p = pos + HEADER_BYTES;
        for (let i = 0; i < count && index + i < end; i++) {
          const len = buf.readUInt32LE(p);
          if (index + i >= start) spans.push(p + 4, len);
          p += 4 + len;
        }
      }
      index += count;
      pos = bodyEnd;
    }
    if (spans.length === 0) return [];
    // Second: each value's bytes copied out of the reused read buffer into a buffer of its own,
    // and decoded as views of it. `Buffer.allocUnsafe` serves values under 4 KiB from Node's
    // shared 8 KiB pool slabs, which the allocator reuses as they die; one chunk-sized buffer per
    // read instead left the process 35-50 MiB larger after a million values (freed large blocks
    // are reused late), and reading values as views of the read buffer itself would change them
    // under a caller that kept one.
    const values: T[] = [];
    for (let i = 0; i < spans.length; i += 2) {
      const own = Buffer.allocUnsafe(spans[i + 1]!);
      buf.copy(own, 0, spans[i], spans[i]! + own.length);
      values.push(viewPackr.unpack(own) as T);
    }
    return values;
  };

  const release = (seg: Segment): void => {
    if (seg.released) return;
    seg.released = true;
    sealed.delete(seg.seq);
    closeSync(seg.fd);
    try {
      unlinkSync(seg.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    syncDir();
  };

  const sealedOf = (seg: Segment): SealedSegment<T> => ({
    seq: seg.seq,
    count: seg.count,
    firstSeq: seg.firstSeq,
    lastSeq: seg.lastSeq,
    read: (from, size) => read(seg, from, size),
    release: () => release(seg),
  });
  /** The open segment; a new one if the last seal could not create it. */
  const current = (): Segment => {
    if (open.sealed) open = create(open.seq + 1);
    return open;
  };

  return {
    durable: true,
    append: (value) => appendAll([value]),
    appendAll,
    count: () => (open.sealed ? 0 : open.count),
    seal: () => {
      usable();
      const seg = current();
      writeSeal(seg);
      seg.sealed = true;
      sealed.set(seg.seq, seg);
      // The seal is durable before the next file exists: a crash in between leaves a sealed last
      // file, and recovery creates the next one. So the batch counter is never lost: the open
      // file always exists and carries the highest number.
      current();
      return sealedOf(seg);
    },
    unreleased: () => [...sealed.values()].map(sealedOf),
    close: () => {
      if (closed) return;
      closed = true;
      for (const seg of sealed.values()) closeSync(seg.fd);
      if (!open.sealed) closeSync(open.fd);
      unclaim();
    },
  };
}

/** Index of the last entry `<= value` (entries ascending, the first one 0). */
function lastAtOrBefore(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (sorted[mid]! <= value) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Index of the first entry `>= value`, or `sorted.length`. */
function firstAtOrAfter(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! >= value) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
