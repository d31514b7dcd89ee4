import { pair, type BaselinePair } from './baseline-pair.js';

/** What this harness uses of bench/exactly-once.bench.ts (owned by the exactly-once engine). */
interface ExactlyOnceBenchModule {
  runExactlyOnceBench(options: { events?: number; runs?: number; url?: string }): Promise<{
    summary: {
      roofEventsPerSec: number;
      sluiceEventsPerSec: number;
      roofCpuUsPerEvent: number;
      sluiceCpuUsPerEvent: number;
      lmdbCommitsPerEvent: number;
      command: string;
    };
  }>;
}

/**
 * The exactly-once engine (per-key counter in LMDB, one JetStream output per input, deterministic
 * message ids) against the best raw-client loop publishing the same outputs at-least-once without
 * state. Runs bench/exactly-once.bench.ts on this run's server; null when that file is absent.
 */
export async function exactlyOnceBaseline(url: string, events: number, runs: number): Promise<BaselinePair | null> {
  const path = '../exactly-once.bench.js';
  let mod: ExactlyOnceBenchModule;
  try {
    mod = (await import(path)) as ExactlyOnceBenchModule;
  } catch {
    return null;
  }
  const { summary } = await mod.runExactlyOnceBench({ events, runs, url });
  return pair({
    name: 'exactly-once',
    work: `${events.toLocaleString('en')} JetStream inputs -> per-key state + one JetStream output each`,
    rawLabel: 'raw client, at-least-once, no state',
    sluiceLabel: 'Sluice exactly-once engine',
    raw: summary.roofEventsPerSec,
    sluice: summary.sluiceEventsPerSec,
    cpuUsPerEvent: { raw: summary.roofCpuUsPerEvent, sluice: summary.sluiceCpuUsPerEvent },
    lmdbCommitsPerEvent: summary.lmdbCommitsPerEvent,
    events,
    rounds: runs,
    note: `from ${summary.command}; CPU is the bench process's own (it also publishes)`,
  });
}
