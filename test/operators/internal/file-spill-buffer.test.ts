import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fileSpillBuffer } from '../../../operators/internal/file-spill-buffer.js';
import { InvalidConfigError } from '../../../src/errors.js';
import { describeBatchBufferContract } from '../../src/state/batch-buffer-contract.js';

const dirs: string[] = [];
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-spill-test-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describeBatchBufferContract('fileSpillBuffer', { make: () => fileSpillBuffer({ dir: tempDir(), writeBytes: 1024 }) });

describe('fileSpillBuffer', () => {
  it('reads back any range of a segment as it was appended, bytes as bytes, across write and index boundaries', () => {
    const buf = fileSpillBuffer<{ to: string; raw: Uint8Array; n: number }>({ dir: tempDir(), writeBytes: 1024 });
    const value = (n: number) => ({ to: `t${n % 4}`, raw: new Uint8Array(n % 300).fill(n % 251), n });
    for (let n = 0; n < 1500; n++) buf.append(value(n));
    const seg = buf.seal();
    expect(seg.count).toBe(1500);
    for (const [from, size] of [
      [0, 1000],
      [1000, 1000],
      [255, 2],
      [256, 1],
      [511, 300],
      [1499, 5],
      [1500, 5],
    ] as const) {
      const got = seg.read(from, size);
      expect(got.map((v) => v.n)).toEqual(Array.from({ length: Math.max(0, Math.min(1500, from + size) - from) }, (_, i) => from + i));
      for (const v of got) expect(Buffer.from(v.raw).equals(Buffer.from(value(v.n).raw))).toBe(true);
    }
  });

  it('deletes a segment’s file on release', () => {
    const dir = tempDir();
    const buf = fileSpillBuffer<number>({ dir });
    buf.append(1);
    const seg = buf.seal();
    expect(readdirSync(dir)).toHaveLength(2); // the sealed segment and the new open one
    seg.release();
    expect(readdirSync(dir)).toHaveLength(1);
    expect(seg.read(0, 10)).toEqual([]);
  });

  it('refuses a bad option', () => {
    expect(() => fileSpillBuffer({ dir: tempDir(), writeBytes: 10 })).toThrow(InvalidConfigError);
    expect(() => fileSpillBuffer({ dir: '' })).toThrow(InvalidConfigError);
  });
});
