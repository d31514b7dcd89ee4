import { closeSync, mkdirSync, openSync, readSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { InvalidConfigError } from '../../src/errors.js';
import type { BatchBuffer, SealedSegment } from '../../src/state/batch-buffer.js';

/** Options of {@link fileSpillBuffer}. */
export interface FileSpillBufferConfig<T> {
  /** A private directory for the spill files (created; one file per segment, deleted on release). */
  dir: string;
  /** Bytes gathered in memory before one write to the segment file. Default 1 MiB. */
  writeBytes?: number | undefined;
  /** Stream sequence of a value, for `firstSeq`/`lastSeq`. Default: `value.seq` when it is a number. */
  seqOf?: ((value: T) => number | undefined) | undefined;
}

/** Records between two entries of a segment's offset index: a read seeks to one, then scans. */
const INDEX_EVERY = 256;

// Standard MessagePack, as the wire: a spilled value reads back as it was appended (bytes as bytes).
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, variableMapSize: true });

/**
 * A {@link BatchBuffer} that spills to plain files, for batches larger than memory that need not
 * survive a restart (the memory buffer's guarantee: `batchUntil` keeps inputs unacknowledged
 * until their batch is processed). Values are MessagePack records, length-prefixed, appended to
 * one file per segment in writes of `writeBytes`; a sealed segment is read with `read()` into a
 * fresh buffer per chunk and its file deleted on release.
 *
 * Why files and not LMDB: LMDB reads through a memory map, so every page of a batch read back (and
 * the pages its writes touch) counts in the process's RSS until the kernel reclaims it — a batch
 * of 540 MiB peaked at 1.1 GiB RSS in `lmdbBatchBuffer`. Written and read with write()/read(),
 * the data sits in the page cache, which RSS does not count: the process holds the write buffer,
 * one chunk (read in one read()) and an offset per 256 values.
 *
 * @throws InvalidConfigError for a bad option.
 */
export function fileSpillBuffer<T>(config: FileSpillBufferConfig<T>): BatchBuffer<T> {
  const writeBytes = config.writeBytes ?? 1024 * 1024;
  if (!Number.isInteger(writeBytes) || writeBytes < 1024)
    throw new InvalidConfigError('fileSpillBuffer', 'writeBytes', `must be an integer >= 1024, got ${writeBytes}`);
  if (typeof config.dir !== 'string' || config.dir === '') throw new InvalidConfigError('fileSpillBuffer', 'dir', 'must be a directory path');
  const seqOf = config.seqOf ?? defaultSeqOf;
  mkdirSync(config.dir, { recursive: true });
  const sealed = new Map<number, SealedSegment<T>>();
  let nextSeq = 1;
  let open = newOpen(nextSeq);

  interface Open {
    readonly path: string;
    readonly fd: number;
    /** Byte offset of every INDEX_EVERY-th record. */
    readonly index: number[];
    parts: Uint8Array[];
    partBytes: number;
    written: number;
    count: number;
    firstSeq: number | undefined;
    lastSeq: number | undefined;
  }

  function newOpen(seq: number): Open {
    const path = join(config.dir, `segment-${seq}`);
    return { path, fd: openSync(path, 'w+'), index: [], parts: [], partBytes: 0, written: 0, count: 0, firstSeq: undefined, lastSeq: undefined };
  }

  function writeOut(o: Open): void {
    if (o.partBytes === 0) return;
    const buf = o.parts.length === 1 ? o.parts[0]! : Buffer.concat(o.parts, o.partBytes);
    let done = 0;
    while (done < buf.length) done += writeSync(o.fd, buf, done, buf.length - done, o.written + done);
    o.written += buf.length;
    o.parts = [];
    o.partBytes = 0;
  }

  return {
    append: (value) => {
      const body = packr.pack(value);
      const head = Buffer.allocUnsafe(4);
      head.writeUInt32BE(body.length, 0);
      if (open.count % INDEX_EVERY === 0) open.index.push(open.written + open.partBytes);
      open.parts.push(head, body);
      open.partBytes += 4 + body.length;
      const s = seqOf(value);
      if (open.count === 0) open.firstSeq = s;
      open.lastSeq = s;
      open.count++;
      if (open.partBytes >= writeBytes) writeOut(open);
    },
    count: () => open.count,
    seal: () => {
      const o = open;
      writeOut(o);
      const seq = nextSeq++;
      open = newOpen(nextSeq);
      let released = false;
      const segment: SealedSegment<T> = {
        seq,
        count: o.count,
        firstSeq: o.firstSeq,
        lastSeq: o.lastSeq,
        read: (from, size) => {
          const start = Math.max(0, from);
          const end = Math.min(o.count, start + Math.max(0, size));
          if (released || start >= end) return [];
          // One read from the index entry at or before `start` to the one after `end`: the chunk
          // plus fewer than INDEX_EVERY records on either side.
          const first = Math.floor(start / INDEX_EVERY);
          const last = Math.ceil(end / INDEX_EVERY);
          const from0 = o.index[first]!;
          const to = last < o.index.length ? o.index[last]! : o.written;
          const buf = Buffer.allocUnsafe(to - from0);
          let got = 0;
          while (got < buf.length) {
            const n = readSync(o.fd, buf, got, buf.length - got, from0 + got);
            if (n === 0) break;
            got += n;
          }
          const out: T[] = [];
          let at = 0;
          for (let i = first * INDEX_EVERY; i < end; i++) {
            const length = buf.readUInt32BE(at);
            if (i >= start) out.push(packr.unpack(buf.subarray(at + 4, at + 4 + length)) as T);
            at += 4 + length;
          }
          return out;
        },
        release: () => {
          if (released) return;
          released = true;
          sealed.delete(seq);
          closeSync(o.fd);
          unlinkSync(o.path);
        },
      };
      sealed.set(seq, segment);
      return segment;
    },
    unreleased: () => [...sealed.values()],
  };
}

/** Deletes a spill directory and everything in it (after the buffer's pipeline stopped). */
export function removeSpillDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

function defaultSeqOf(value: unknown): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const seq = (value as { seq?: unknown }).seq;
  return typeof seq === 'number' ? seq : undefined;
}
