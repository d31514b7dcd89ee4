import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HEADER_BYTES, KIND_END, KIND_MORE, KIND_SEAL, packr, packSeal, type SealInfo, writeRecordHeader } from '../../../src/state/batch-file-record.js';
import { scanBatchFile, type ScannedBatchFile } from '../../../src/state/scan-batch-file.js';
import { BatchBufferCorruptError } from '../../../src/state/state-errors.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0).reverse()) fn();
});

/** A values record of `kind` holding `values`, framed as the writer frames it. */
function record(kind: number, values: Array<{ seq: number }>): Buffer {
  const body = Buffer.concat(
    values
      .map((v) => packr.pack(v))
      .flatMap((b) => {
        const prefix = Buffer.alloc(4);
        prefix.writeUInt32LE(b.length);
        return [prefix, b];
      }),
  );
  return framed(kind, values.length, body);
}

/** A seal record of `info`. */
function sealRecord(info: SealInfo): Buffer {
  return framed(KIND_SEAL, info.count, packSeal(info));
}

function framed(kind: number, count: number, body: Buffer): Buffer {
  const buf = Buffer.alloc(HEADER_BYTES + body.length);
  body.copy(buf, HEADER_BYTES);
  writeRecordHeader(buf, 0, kind, count, body.length);
  return buf;
}

/** Scans a file holding `bytes`; returns what it found and the file's size after. */
function scan(bytes: Buffer, isLast: boolean): { found: ScannedBatchFile; size: number } {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-scan-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, '0000000001.seg');
  writeFileSync(path, bytes);
  const fd = openSync(path, 'r+');
  cleanups.push(() => closeSync(fd));
  const found = scanBatchFile(fd, path, { isLast, seqOf: (v: { seq: number }) => v.seq, sync: false });
  return { found, size: statSync(path).size };
}

const seqs = (from: number, to: number): Array<{ seq: number }> => Array.from({ length: to - from }, (_, i) => ({ seq: from + i }));

describe('scanBatchFile', () => {
  const commits = Buffer.concat([record(KIND_MORE, seqs(1, 4)), record(KIND_END, seqs(4, 6)), record(KIND_END, seqs(6, 7))]);

  it('counts and indexes whole commits, and sees a seal', () => {
    const { found, size } = scan(commits, true);
    expect(found).toEqual({ sealed: false, size: commits.length, count: 6, firstSeq: 1, lastSeq: 6, indexOffset: [0], indexFirst: [0] });
    expect(size).toBe(commits.length);
    const seal = sealRecord({ count: 6, firstSeq: 1, lastSeq: 6 });
    expect(scan(Buffer.concat([commits, seal]), false).found).toMatchObject({ sealed: true, size: commits.length, count: 6 });
  });

  it('a torn commit at the tail of the last file is cut as a whole; in an earlier file it is corrupt', () => {
    // A commit's first record whole, its END record cut short.
    const torn = Buffer.concat([commits, record(KIND_MORE, seqs(7, 9)), record(KIND_END, seqs(9, 10)).subarray(0, HEADER_BYTES + 2)]);
    const { found, size } = scan(torn, true);
    expect([found.count, found.lastSeq, found.size, size]).toEqual([6, 6, commits.length, commits.length]);
    expect(() => scan(torn, false)).toThrow(BatchBufferCorruptError);
  });

  it('a CRC mismatch at the tail is cut; a seal whose count differs from the file is corrupt, even in the last file', () => {
    const bad = Buffer.concat([commits, record(KIND_END, seqs(7, 8))]);
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 1;
    expect(scan(bad, true).found.count).toBe(6);
    const seal = sealRecord({ count: 5 });
    expect(() => scan(Buffer.concat([commits, seal]), true)).toThrow(/a seal of 5 values after 6/);
  });
});
