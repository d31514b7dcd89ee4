import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * The script that measures a triggered batch's memory, run as `node --import tsx <script> <args>`.
 * Its last stdout line must be one JSON object with the peak RSS, MiB: `peakRssMiB` (and
 * optionally `peakRssAnonMiB`), or (the shape of bench/period-batch-flush.bench.ts: a durable
 * period batch accumulated from JetStream into LMDB, closed by a trigger message, flushed in
 * chunks) `accumulate.rss` and `flush.rss`. To measure with another script that prints such a
 * line, e.g. with `--json`, change this one line.
 */
export const TRIGGERED_BATCH_BENCH = { script: 'bench/period-batch-flush.bench.ts', args: (events: number) => ['--records', String(events)] };

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

/** The figures the script may print; see {@link TRIGGERED_BATCH_BENCH}. */
interface ScriptLine {
  peakRssMiB?: number;
  peakRssAnonMiB?: number;
  accumulate?: { rss?: number; rssAnon?: number };
  flush?: { rss?: number; rssAnon?: number };
}

/**
 * A triggered batch of `events` events, from its first input to its last flushed chunk, in a child
 * process of its own (the script starts its own nats-server), so the peak RSS is the batch's and
 * not the harness's. Never throws: a script that is absent or fails gives `peakRssMiB: null`.
 */
export async function runTriggeredBatchMemory(events: number, bench = TRIGGERED_BATCH_BENCH): Promise<TriggeredBatchMemory> {
  const args = bench.args(events);
  const command = `node --import tsx ${bench.script} ${args.join(' ')}`;
  const started = performance.now();
  const done = (fields: Pick<TriggeredBatchMemory, 'peakRssMiB' | 'peakRssAnonMiB' | 'error'>): TriggeredBatchMemory => ({
    events,
    durationS: Math.round((performance.now() - started) / 100) / 10,
    command,
    ...fields,
  });
  if (!existsSync(`${ROOT}${bench.script}`)) return done({ peakRssMiB: null, error: `${bench.script} is not here` });
  try {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', bench.script, ...args], {
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

function peakOf(...phases: (number | undefined)[]): number | undefined {
  const known = phases.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return known.length > 0 ? Math.max(...known) : undefined;
}
