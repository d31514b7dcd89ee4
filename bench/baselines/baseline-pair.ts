/** A raw baseline and Sluice's counterpart for the same work, measured in the same run. */
export interface BaselinePair {
  /** Stable id, e.g. `jetstream-consume-ack`. */
  name: string;
  /** What is being compared, for the report. */
  work: string;
  rawLabel: string;
  sluiceLabel: string;
  /** Events per second, median of the rounds. */
  raw: number;
  /** Null when the Sluice counterpart is not available in this build (see `note`). */
  sluice: number | null;
  /** sluice / raw (higher is better; 1 = as fast as the hand-written code). */
  ratio: number | null;
  /** Processor CPU per event, µs, where the baseline measures it. */
  cpuUsPerEvent?: { raw: number; sluice: number } | undefined;
  /** LMDB commits per event of the Sluice side, where it commits. */
  lmdbCommitsPerEvent?: number | undefined;
  /** Events per round. */
  events: number;
  rounds: number;
  note?: string | undefined;
}

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Builds the pair; rates are rounded to whole events/s and the ratio to 3 decimals. */
export function pair(fields: Omit<BaselinePair, 'ratio'>): BaselinePair {
  const raw = Math.round(fields.raw);
  const sluice = fields.sluice === null ? null : Math.round(fields.sluice);
  return { ...fields, raw, sluice, ratio: sluice === null || raw === 0 ? null : Math.round((sluice / raw) * 1000) / 1000 };
}

/** Events/s of a synchronous or asynchronous run over `events` events. */
export async function rateOf(events: number, run: () => void | Promise<void>): Promise<number> {
  const t0 = performance.now();
  await run();
  return (events * 1000) / (performance.now() - t0);
}
