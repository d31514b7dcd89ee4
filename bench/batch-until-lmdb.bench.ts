/**
 * How fast `batchUntil` with an LMDB buffer (fsync on) acknowledges inputs from a settling source:
 * each input is pushed in its own `Settlement`, as the stream source does, `burst` per event-loop
 * turn (a pull batch), and the clock stops when the last input settled (was committed).
 *
 * - per-value: `buffer.append` per value, one LMDB commit each (what a plain subscriber does);
 * - operator: `batchUntil`, one commit per event-loop turn for settling inputs.
 *
 * Run: node --import tsx bench/batch-until-lmdb.bench.ts [--values 20000] [--burst 256] [--per-value-values 2000]
 * Prints one JSON line per mode (HOUSE-STYLE 15). Disk-bound and noisy on a shared machine:
 * compare the two lines of one run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { NEVER, Subject } from 'rxjs';
import { withSettlement } from '../src/settle/settle-scope.js';
import { Settlement } from '../src/settle/settlement.js';
import { lmdbBatchBuffer } from '../src/state/lmdb-batch-buffer.js';
import { openStateStore } from '../src/state/open-state-store.js';
import { batchUntil } from '../operators/batch-until.js';

interface Value {
  readonly seq: number;
  readonly pad: string;
}

/** Pushes `values` settling inputs, `burst` per turn, and resolves with the JSON line of the run. */
export async function runBatchUntilLmdbBench(mode: 'per-value' | 'operator', values: number, burst: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-lbb-'));
  const store = openStateStore({ dir, topology: 'bench' });
  try {
    const buffer = lmdbBatchBuffer<Value>({ store, name: 'bench' });
    const input = new Subject<Value>();
    if (mode === 'operator') input.pipe(batchUntil(() => NEVER, { name: 'bench', buffer })).subscribe();
    else input.subscribe((v) => buffer.append(v));
    const commitsBefore = store.stats.commits;
    const pad = 'x'.repeat(100);
    const started = performance.now();
    await new Promise<void>((resolve) => {
      let settled = 0;
      let seq = 0;
      const turn = (): void => {
        for (let i = 0; i < burst && seq < values; i++) {
          const s = new Settlement(`BENCH:${++seq}`, true, () => {
            if (++settled === values) resolve();
          });
          withSettlement(s, () => input.next({ seq, pad }));
          s.release();
        }
        if (seq < values) setImmediate(turn);
      };
      turn();
    });
    const ms = performance.now() - started;
    return JSON.stringify({
      bench: `batch-until-lmdb/${mode}`,
      date: new Date().toISOString(),
      node: process.version,
      msgs: values,
      burst,
      ms: Math.round(ms),
      perSec: Math.round((values / ms) * 1000),
      commits: store.stats.commits - commitsBefore,
    });
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const burst = arg('burst', 256);
  console.log(await runBatchUntilLmdbBench('per-value', arg('per-value-values', 2_000), burst));
  console.log(await runBatchUntilLmdbBench('operator', arg('values', 20_000), burst));
}
