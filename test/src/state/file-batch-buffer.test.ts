import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../../src/errors.js';
import type { BatchBuffer } from '../../../src/state/batch-buffer.js';
import { fileBatchBuffer, type FileBatchBuffer } from '../../../src/state/file-batch-buffer.js';
import { BatchBufferCorruptError, StateDirectoryInUseError } from '../../../src/state/state-errors.js';
import { describeBatchBufferContract, type ContractValue } from './batch-buffer-contract.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0).reverse()) fn();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-fbb-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function open<T>(dir: string): FileBatchBuffer<T> {
  const buf = fileBatchBuffer<T>({ dir, noSync: true });
  cleanups.push(() => buf.close());
  return buf;
}

const dirs = new WeakMap<BatchBuffer<ContractValue>, string>();
describeBatchBufferContract('fileBatchBuffer', {
  make: () => {
    const dir = tempDir();
    const buf = open<ContractValue>(dir);
    dirs.set(buf, dir);
    return buf;
  },
  reopen: (previous) => {
    (previous as FileBatchBuffer<ContractValue>).close();
    return open<ContractValue>(dirs.get(previous)!);
  },
});

const item = (n: number) => ({ n, seq: n + 1, raw: new Uint8Array(n % 700).fill(n % 251), to: `t${n % 4}` });
type Item = ReturnType<typeof item>;
const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
const segmentFiles = (dir: string): string[] =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.seg'))
    .sort();

describe('fileBatchBuffer', () => {
  it('reads back any range as appended, bytes as bytes, across record, commit and index boundaries', () => {
    const buf = open<Item>(tempDir());
    // Commits of odd sizes: records of up to 256 values, index entries every 256 or more.
    let n = 0;
    for (const size of [1, 7, 300, 1000, 2, 513, 177]) {
      buf.appendAll(range(n, n + size).map(item));
      n += size;
    }
    const seg = buf.seal();
    expect([seg.count, seg.firstSeq, seg.lastSeq]).toEqual([n, 1, n]);
    for (const [from, size] of [
      [0, 1000],
      [1000, 1000],
      [255, 2],
      [256, 1],
      [511, 300],
      [307, 1],
      [n - 1, 5],
      [n, 5],
    ] as const) {
      const got = seg.read(from, size);
      expect(got.map((v) => v.n)).toEqual(range(Math.max(0, from), Math.min(n, from + size)));
      for (const v of got) expect(Buffer.from(v.raw).equals(Buffer.from(item(v.n).raw))).toBe(true);
    }
  });

  it('writes one commit as length-prefixed records with a CRC, and a seal record at the end', () => {
    const dir = tempDir();
    const buf = open<Item>(dir);
    buf.appendAll(range(0, 600).map(item)); // 256 + 256 + 88: two MORE records and an END
    const file = join(dir, segmentFiles(dir)[0]!);
    const bytes = readFileSync(file);
    const kinds: number[] = [];
    for (let at = 0; at < bytes.length; at += 20 + bytes.readUInt32LE(at + 12)) {
      expect(bytes.toString('latin1', at, at + 4)).toBe('SLBF');
      kinds.push(bytes[at + 4]!, bytes.readUInt32LE(at + 8));
    }
    expect(kinds).toEqual([1, 256, 1, 256, 2, 88]);
    buf.seal();
    const sealedBytes = readFileSync(file);
    expect(sealedBytes[bytes.length + 4]).toBe(3);
    expect(segmentFiles(dir)).toEqual(['0000000001.seg', '0000000002.seg']);
  });

  it('after a crash: keeps every whole commit of the open batch and cuts a torn one at the tail', () => {
    const dir = tempDir();
    const buf = fileBatchBuffer<Item>({ dir, noSync: true });
    buf.appendAll(range(0, 10).map(item));
    buf.appendAll(range(10, 600).map(item));
    const file = join(dir, segmentFiles(dir)[0]!);
    const whole = statSync(file).size;
    buf.appendAll(range(600, 900).map(item)); // a MORE record of 256 and an END of 44
    buf.close(); // as a SIGKILL leaves it: nothing more written
    const full = statSync(file).size;
    for (const cut of [full - 1, full - 30, whole + 25, whole + 1]) {
      truncateSync(file, cut);
      const again = open<Item>(dir);
      expect(again.count()).toBe(600);
      expect(statSync(file).size).toBe(whole);
      again.appendAll([item(600)]);
      const seg = again.seal();
      expect([seg.count, seg.firstSeq, seg.lastSeq]).toEqual([601, 1, 601]);
      expect(seg.read(0, 1000).map((v) => v.n)).toEqual(range(0, 601));
      again.close();
      // Back to the state before the seal: drop the seal and the extra value, restore the torn commit.
      rmSync(join(dir, '0000000002.seg'));
      truncateSync(file, whole);
      const writer = fileBatchBuffer<Item>({ dir, noSync: true });
      writer.appendAll(range(600, 900).map(item));
      writer.close();
    }
  });

  it('cuts a tail that is garbage, zeros or a CRC mismatch, and keeps the commits before it', () => {
    for (const tail of [Buffer.alloc(300), Buffer.from('garbage that is not a record at all'), 'flip' as const]) {
      const dir = tempDir();
      const buf = fileBatchBuffer<Item>({ dir, noSync: true });
      buf.appendAll(range(0, 5).map(item));
      const file = join(dir, segmentFiles(dir)[0]!);
      const whole = statSync(file).size;
      buf.appendAll(range(5, 9).map(item));
      buf.close();
      if (tail === 'flip') {
        const bytes = readFileSync(file);
        bytes[bytes.length - 3]! ^= 0xff; // inside the last commit's body
        writeFileSync(file, bytes);
      } else {
        truncateSync(file, whole);
        appendFileSync(file, tail);
      }
      const again = open<Item>(dir);
      expect(again.count()).toBe(5);
      expect(statSync(file).size).toBe(whole);
      expect(
        again
          .seal()
          .read(0, 10)
          .map((v) => v.n),
      ).toEqual(range(0, 5));
    }
  });

  it('refuses a damaged record inside a sealed batch instead of cutting it', () => {
    const dir = tempDir();
    const buf = fileBatchBuffer<Item>({ dir, noSync: true });
    buf.appendAll(range(0, 300).map(item));
    buf.seal();
    buf.close();
    const file = join(dir, '0000000001.seg');
    const bytes = readFileSync(file);
    bytes[100]! ^= 0xff;
    writeFileSync(file, bytes);
    expect(() => fileBatchBuffer<Item>({ dir, noSync: true })).toThrow(BatchBufferCorruptError);
    expect(() => fileBatchBuffer<Item>({ dir, noSync: true })).toThrow(/0000000001\.seg' is damaged at byte 0: a record whose CRC does not match/);
  });

  it('a read finds a record damaged after recovery', () => {
    const dir = tempDir();
    const buf = open<Item>(dir);
    buf.appendAll(range(0, 300).map(item));
    const seg = buf.seal();
    const file = join(dir, '0000000001.seg');
    const bytes = readFileSync(file);
    bytes[5000]! ^= 0xff;
    writeFileSync(file, bytes);
    expect(() => seg.read(0, 300)).toThrow(BatchBufferCorruptError);
  });

  it('recovers a batch sealed just before the crash (its successor never created) and keeps counting', () => {
    const dir = tempDir();
    const buf = fileBatchBuffer<Item>({ dir, noSync: true });
    buf.appendAll(range(0, 3).map(item));
    buf.seal();
    buf.close();
    rmSync(join(dir, '0000000002.seg'));
    const again = open<Item>(dir);
    expect(again.unreleased().map((s) => [s.seq, s.count, s.read(0, 10).map((v) => v.n)])).toEqual([[1, 3, [0, 1, 2]]]);
    expect(again.count()).toBe(0);
    expect(again.seal().seq).toBe(2);
  });

  it('keeps the batch counter when every batch was released', () => {
    const dir = tempDir();
    const buf = fileBatchBuffer<Item>({ dir, noSync: true });
    buf.append(item(0));
    buf.seal().release();
    buf.append(item(1));
    buf.seal().release();
    buf.close();
    expect(segmentFiles(dir)).toEqual(['0000000003.seg']);
    expect(open<Item>(dir).seal().seq).toBe(3);
  });

  it('releases out of order and deletes each batch file', () => {
    const dir = tempDir();
    const buf = open<Item>(dir);
    const segs = [0, 1, 2].map((n) => (buf.append(item(n)), buf.seal()));
    segs[1]!.release();
    segs[1]!.release();
    expect(buf.unreleased().map((s) => s.seq)).toEqual([1, 3]);
    expect(segmentFiles(dir)).toEqual(['0000000001.seg', '0000000003.seg', '0000000004.seg']);
    expect(segs[1]!.read(0, 10)).toEqual([]);
  });

  it('reads a 200k batch in chunks: each read holds about its chunk, never the batch', () => {
    const dir = tempDir();
    const buf = open<{ seq: number; raw: Uint8Array }>(dir);
    const raw = new Uint8Array(500).fill(7);
    for (let c = 0; c < 400; c++) buf.appendAll(range(c * 500, (c + 1) * 500).map((n) => ({ seq: n, raw })));
    const seg = buf.seal();
    const fileBytes = statSync(join(dir, '0000000001.seg')).size;
    const chunkBytes = (fileBytes / 200_000) * 1000;
    let seen = 0;
    let largestPiece = 0;
    let largestChunk = 0;
    for (let from = 0; from < seg.count; from += 1000) {
      const chunk = seg.read(from, 1000);
      expect(chunk.map((v) => v.seq)).toEqual(range(from, from + 1000));
      seen += chunk.length;
      // Values' bytes are views of the buffers the read copied them into: their sizes are what the chunk holds.
      const pieces = new Set(chunk.map((v) => v.raw.buffer));
      largestPiece = Math.max(largestPiece, ...[...pieces].map((p) => p.byteLength));
      largestChunk = Math.max(
        largestChunk,
        [...pieces].reduce((n, p) => n + p.byteLength, 0),
      );
    }
    expect(seen).toBe(200_000);
    // Each value in a buffer of its own, from Node's 8 KiB pool slabs (two partly used ones at most).
    expect(largestChunk).toBeLessThan(chunkBytes * 1.05 + 2 * Buffer.poolSize);
    expect(largestPiece).toBeLessThanOrEqual(Buffer.poolSize);
  });

  it('refuses a bad option, and a directory another live process uses', () => {
    expect(() => fileBatchBuffer({ dir: '' })).toThrow(InvalidConfigError);
    expect(() => fileBatchBuffer({ dir: tempDir(), seqOf: 3 as never })).toThrow(/seqOf/);
    const dir = tempDir();
    // The claim of a live process (this one's parent), as a second process would find it.
    writeFileSync(join(dir, 'sluice.owner'), JSON.stringify({ pid: process.ppid }));
    expect(() => fileBatchBuffer({ dir })).toThrow(StateDirectoryInUseError);
  });
});
