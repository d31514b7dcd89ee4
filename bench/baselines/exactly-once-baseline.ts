import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { median, pair, type BaselinePair } from './baseline-pair.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The engine's own bench (owned by the exactly-once engine); its command line is kept stable. */
const SCRIPT = 'bench/exactly-once.bench.ts';

/** One run of bench/exactly-once.bench.ts: the raw loop, then the engine, on the same stream. */
export interface ExactlyOnceRound {
  roofEventsPerSec: number;
  sluiceEventsPerSec: number;
  roofCpuUsPerEvent: number;
  sluiceCpuUsPerEvent: number;
}

/** What the exactly-once figures of a run are (`exactlyOnce` in result.json). */
export interface ExactlyOnceBaseline {
  events: number;
  rounds: ExactlyOnceRound[];
  /** Medians over the rounds, events/s. */
  roofEventsPerSec: number;
  sluiceEventsPerSec: number;
  /** Engine ÷ raw loop: medians of the per-round ratios (each round measures both, one after the other). */
  throughputRatio: number;
  cpuRatio: number;
  /** The command that reproduces it. */
  command: string;
  /** The row of the "Raw baselines beside Sluice" table. */
  pair: BaselinePair;
}

/** The exactly-once bench failed (it is then not in the baselines table, and its targets say why). */
export interface ExactlyOnceFailure {
  error: string;
}

/** The JSON lines the script prints: one per measured run, then the medians. */
interface RunLine {
  bench: string;
  eventsPerSec?: number;
  cpuUsPerEvent?: number;
  lmdbCommitsPerEvent?: number;
  command?: string;
}

/**
 * The exactly-once engine (per-key counter in LMDB, one JetStream output per input, deterministic
 * message ids) against the raw client's consume + publish loop with message ids and no state.
 * Runs bench/exactly-once.bench.ts in a child process (its own nats-server, so the 200,000-event
 * input stream does not stay in the run's server, and the engine's heap is not the harness's);
 * null when that file is absent. Each of its runs measures the raw loop then the engine, so the
 * ratios are medians of per-run ratios, like the paired rounds.
 * @throws Error when the script fails or prints no runs.
 */
export async function exactlyOnceBaseline(events: number, runs: number): Promise<ExactlyOnceBaseline | null> {
  if (!existsSync(`${ROOT}${SCRIPT}`)) return null;
  const args = ['--events', String(events), '--runs', String(runs)];
  const { stdout } = await run(process.execPath, ['--import', 'tsx', SCRIPT, ...args], {
    cwd: ROOT,
    maxBuffer: 16 * 1024 * 1024,
    // The slowest plausible run: 5,000 events/s on each side, plus start-up and the preload.
    timeout: 120_000 + (runs * 2 * events) / 5,
  });
  const lines = stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as RunLine);
  const roof = lines.filter((l) => l.bench === 'exactly-once/roof');
  const sluice = lines.filter((l) => l.bench === 'exactly-once/sluice');
  if (roof.length === 0 || roof.length !== sluice.length) throw new Error(`${SCRIPT} printed ${roof.length} raw and ${sluice.length} engine runs`);
  const rounds = roof.map((r, i): ExactlyOnceRound => ({
    roofEventsPerSec: r.eventsPerSec ?? 0,
    sluiceEventsPerSec: sluice[i]!.eventsPerSec ?? 0,
    roofCpuUsPerEvent: r.cpuUsPerEvent ?? 0,
    sluiceCpuUsPerEvent: sluice[i]!.cpuUsPerEvent ?? 0,
  }));
  const perRound = (f: (r: ExactlyOnceRound) => number) => round3(median(rounds.map(f)));
  const summary = lines.find((l) => l.bench === 'exactly-once/summary');
  const command = summary?.command ?? `node --import tsx ${SCRIPT} ${args.join(' ')}`;
  const roofRate = median(rounds.map((r) => r.roofEventsPerSec));
  const sluiceRate = median(rounds.map((r) => r.sluiceEventsPerSec));
  const throughputRatio = perRound((r) => safeDiv(r.sluiceEventsPerSec, r.roofEventsPerSec));
  return {
    events,
    rounds,
    roofEventsPerSec: roofRate,
    sluiceEventsPerSec: sluiceRate,
    throughputRatio,
    cpuRatio: perRound((r) => safeDiv(r.sluiceCpuUsPerEvent, r.roofCpuUsPerEvent)),
    command,
    // The table's ratio is the per-round median too (not the ratio of the medians), so both agree.
    pair: {
      ...pair({
        name: 'exactly-once',
        work: `${events.toLocaleString('en')} JetStream inputs -> per-key state + one JetStream output each`,
        rawLabel: 'raw client consume + publish with message ids, no state',
        sluiceLabel: 'Sluice exactly-once engine',
        raw: roofRate,
        sluice: sluiceRate,
        cpuUsPerEvent: { raw: median(rounds.map((r) => r.roofCpuUsPerEvent)), sluice: median(rounds.map((r) => r.sluiceCpuUsPerEvent)) },
        lmdbCommitsPerEvent: median(sluice.map((s) => s.lmdbCommitsPerEvent ?? 0)),
        events,
        rounds: runs,
        note: `from \`${command}\` (a child process with its own nats-server); CPU is that process's own (it also publishes)`,
      }),
      ratio: throughputRatio,
    },
  };
}

function safeDiv(x: number, y: number): number {
  return y > 0 ? x / y : 0;
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
