import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fileBatchBuffer } from '../../src/state/file-batch-buffer.js';
import { crashSeed, mulberry32, spawnCrashChild } from './crash-child.js';

/*
 * Real crashes of the file batch buffer: a child appends numbered values in commits of random
 * sizes (one write + fdatasync each, several records per commit) and seals now and then; it is
 * SIGKILLed at seeded random moments — often in the middle of a write — and the directory is then
 * opened here. Each time the buffer must hold exactly the values of the commits that returned,
 * plus at most the one in flight as a whole: 0..N-1 in order across its batches, no value twice,
 * none missing, and N either the last total confirmed or the total of the commit under way.
 * Reproduce with SLUICE_CRASH_SEED=<seed>.
 */

const CHILD = join(import.meta.dirname, 'file-batch-buffer-child.ts');

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0).reverse()) fn();
});

/** Every value in the buffer, batch by batch (the open one sealed to read it). */
function readAll(dir: string): number[] {
  const buffer = fileBatchBuffer<{ seq: number; pad: Uint8Array }>({ dir });
  try {
    if (buffer.count() > 0) buffer.seal();
    const out: number[] = [];
    for (const seg of buffer.unreleased()) {
      for (let from = 0; from < seg.count; from += 1000) {
        for (const v of seg.read(from, 1000)) {
          if (v.pad.length !== v.seq % 600 || v.pad.some((b) => b !== v.seq % 251)) throw new Error(`value ${v.seq} read back damaged`);
          out.push(v.seq);
        }
      }
    }
    return out;
  } finally {
    buffer.close();
  }
}

describe('fileBatchBuffer under real crashes (SIGKILL mid-write)', () => {
  it('recovers exactly the committed values, a torn commit cut as a whole, after each of 5 kills', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-fbb-crash-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const seed = crashSeed();
    const rnd = mulberry32(seed);
    const moments: string[] = [];
    for (let round = 0; round < 5; round++) {
      const state = { ready: -1, written: -1, committed: -1, commits: 0 };
      const child = spawnCrashChild(CHILD, { dir, seed: seed + round }, (line) => {
        const [tag, n] = line.split(' ');
        if (tag === 'ready') state.ready = Number(n);
        if (tag === 'w') state.written = Number(n);
        if (tag === 'c') {
          state.committed = Number(n);
          state.commits++;
        }
      });
      cleanups.push(() => void child.proc.kill('SIGKILL'));
      const after = 3 + Math.floor(rnd() * 20);
      await child.when(() => state.commits >= after);
      await new Promise((r) => setTimeout(r, Math.floor(rnd() * 8)));
      child.proc.kill('SIGKILL');
      await child.exited;
      await new Promise((r) => setTimeout(r, 50)); // the last stdout lines
      expect(state.ready, child.stderr()).toBeGreaterThanOrEqual(0);
      const values = readAll(dir);
      const n = values.length;
      moments.push(`${state.commits} commits, confirmed ${state.committed}, in flight ${state.written}, recovered ${n}`);
      expect([state.committed, state.written]).toContain(n);
      expect(values).toEqual(Array.from({ length: n }, (_, i) => i));
    }
    console.log(`fileBatchBuffer crash: seed ${seed}; ${moments.join('; ')}`);
  }, 90_000);
});
