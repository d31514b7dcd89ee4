import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * A script that measures a triggered batch's memory. A `.ts` script is bundled by esbuild into
 * bench/.compiled/ and run as plain JavaScript (`node <bundle> <args>`), the way a deployed
 * topology runs: under tsx the process would also hold tsx's loader thread and its compiled
 * sources, ~40 MiB before the first event that are the loader's and not the batch's. A `.js` or
 * `.mjs` script runs as it is.
 */
export interface TriggeredBatchBench {
  /** Path from the repository root (or absolute). */
  script: string;
  args: (events: number) => string[];
}

/**
 * The scripts that measure it, the first one present is run. Each one's last stdout line must be
 * one JSON object with the peak RSS, MiB: `peakRssMiB` (and optionally `peakRssAnonMiB`, else
 * `accumulate.rssAnon` / `flush.rssAnon`), or, the shape of bench/period-batch-flush.bench.ts,
 * `accumulate.rss` and `flush.rss`. To measure with another script that prints such a line (e.g.
 * with `--json`), add one line here.
 * - triggered-batch-rss: the bench mode's own pipeline (`batchUntil` with the durable
 *   `fileBatchBuffer`, read in chunks), in process without NATS; peak RSS is the process's `VmHWM`;
 * - period-batch-flush: a durable period batch accumulated from JetStream into LMDB, closed by a
 *   trigger message, flushed in chunks of 1000 (what there is until the first one lands).
 */
export const TRIGGERED_BATCH_BENCHES: readonly TriggeredBatchBench[] = [
  { script: 'bench/triggered-batch-rss.bench.ts', args: (events) => ['--events', String(events), '--buffer', 'file', '--json'] },
  { script: 'bench/period-batch-flush.bench.ts', args: (events) => ['--records', String(events)] },
];

/** Peak memory of one triggered batch (`triggeredBatch` in result.json). */
export interface TriggeredBatchMemory {
  events: number;
  /** Peak RSS of the process holding the batch, MiB; null when not measured (see `error`). */
  peakRssMiB: number | null;
  /**
   * Peak anonymous RSS (`RssAnon`: heap, buffers), MiB, when the script reports it: RSS minus the
   * file-backed pages, such as LMDB's memory map, which the kernel can drop under pressure.
   */
  peakRssAnonMiB?: number | undefined;
  /** Wall time of the whole script (its preload included), s. */
  durationS: number;
  command: string;
  /** Why there is no figure: the script is absent, failed, or printed none. */
  error?: string | undefined;
}

/** The figures the script may print; see {@link TRIGGERED_BATCH_BENCHES}. */
interface ScriptLine {
  peakRssMiB?: number;
  peakRssAnonMiB?: number;
  accumulate?: { rss?: number; rssAnon?: number };
  flush?: { rss?: number; rssAnon?: number };
}

/**
 * A triggered batch of `events` events, from its first input to its last flushed chunk, in a child
 * process of its own (a script that needs NATS starts its own nats-server), so the peak RSS is the batch's and
 * not the harness's. Never throws: a script that is absent or fails gives `peakRssMiB: null`.
 */
export async function runTriggeredBatchMemory(
  events: number,
  benches: readonly TriggeredBatchBench[] = TRIGGERED_BATCH_BENCHES,
): Promise<TriggeredBatchMemory> {
  const bench = benches.find((b) => existsSync(resolve(ROOT, b.script))) ?? benches[0];
  const args = bench?.args(events) ?? [];
  let command = `node ${bench?.script ?? '(no script)'} ${args.join(' ')}`;
  const started = performance.now();
  const done = (fields: Pick<TriggeredBatchMemory, 'peakRssMiB' | 'peakRssAnonMiB' | 'error'>): TriggeredBatchMemory => ({
    events,
    durationS: Math.round((performance.now() - started) / 100) / 10,
    command,
    ...fields,
  });
  if (bench === undefined || !existsSync(resolve(ROOT, bench.script))) {
    return done({ peakRssMiB: null, error: `${benches.map((b) => b.script).join(', ') || 'no script'}: not here` });
  }
  try {
    const script = bench.script.endsWith('.ts') ? await compileBench(bench.script) : bench.script;
    if (script !== bench.script) command = `node ${script} ${args.join(' ')} (${bench.script} bundled by esbuild)`;
    const { stdout } = await run(process.execPath, [script, ...args], {
      cwd: ROOT,
      maxBuffer: 16 * 1024 * 1024,
      // 1,000,000 events take 1-3 minutes on 2 shared cores; allow 5,000 events/s end to end.
      timeout: 120_000 + events / 5,
    });
    const line = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as ScriptLine;
    const peak = line.peakRssMiB ?? peakOf(line.accumulate?.rss, line.flush?.rss);
    if (peak === undefined) return done({ peakRssMiB: null, error: `no peak RSS in the last line of ${bench.script}` });
    return done({ peakRssMiB: peak, peakRssAnonMiB: line.peakRssAnonMiB ?? peakOf(line.accumulate?.rssAnon, line.flush?.rssAnon) });
  } catch (err) {
    return done({ peakRssMiB: null, error: err instanceof Error ? err.message.split('\n')[0] : String(err) });
  }
}

/** Bundles a TypeScript bench script and the repository's modules it imports (packages stay in node_modules). */
async function compileBench(script: string): Promise<string> {
  const { build } = await import('esbuild');
  const outfile = `bench/.compiled/${basename(script).replace(/\.ts$/, '.mjs')}`;
  await build({
    absWorkingDir: ROOT,
    entryPoints: [script],
    outfile,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    conditions: ['sluice-source'],
    logLevel: 'warning',
  });
  return outfile;
}

function peakOf(...phases: (number | undefined)[]): number | undefined {
  const known = phases.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return known.length > 0 ? Math.max(...known) : undefined;
}
