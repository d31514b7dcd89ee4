import type { BacklogResult } from './backlog-drain.js';
import type { FraudCheckLatency } from './fraud-check-latency.js';
import type { BaselinePair } from './baselines/baseline-pair.js';
import type { ExactlyOnceBaseline, ExactlyOnceFailure } from './baselines/exactly-once-baseline.js';
import type { BenchPlan } from './bench-plan.js';
import type { TargetCheck } from './check-targets.js';
import type { PairedComparison } from './paired-rounds.js';
import type { ModeResult, StepResult } from './run-mode.js';
import type { TriggeredBatchMemory } from './triggered-batch-memory.js';

/** Where the run happened. */
export interface MachineInfo {
  cores: number;
  cpuModel: string;
  memGiB: number;
  os: string;
  node: string;
  natsServer: string;
  /** 1-minute load average at the start and end: above ~1 means others shared the cores. */
  loadAvgStart: number;
  loadAvgEnd: number;
}

/** A Sluice mode beside its baseline mode. */
export interface Comparison {
  mode: string;
  baseline: string;
  /** mode sustained events/s ÷ baseline's (higher is better). */
  throughputRatio: number | null;
  /** mode events per processor CPU-second ÷ baseline's (higher is better). */
  efficiencyRatio: number | null;
  /** mode CPU per event ÷ baseline's, at the reference rate (lower is better). */
  cpuRatio: number | null;
  /** mode p99 ÷ baseline's, at the reference rate. */
  p99Ratio: number | null;
}

/** The one JSON document a run produces (`--json` prints it; bench/results/ keeps the full run's). */
export interface BenchResult {
  bench: 'sluice';
  /**
   * Bumped when the shape or the method changes, so old results are not compared blindly.
   * 2: the at-least-once modes (stream input), their pairs and target, and `backlog`.
   * 3: the targets of issue 15 (each a ratio to a baseline of the same run, judged only on paired
   * rounds; `source` and `detail`), the triggered-batch pair, `p99Ratio` of the pairs,
   * `exactlyOnce` (a child process, per-round ratios) and `triggeredBatch`.
   */
  schema: 3;
  preset: BenchPlan['preset'];
  date: string;
  commit: string;
  command: string;
  durationS: number;
  machine: MachineInfo;
  plan: BenchPlan;
  modes: ModeResult[];
  baselines: BaselinePair[];
  comparisons: Comparison[];
  /** Alternating A/B measurements behind the targets (empty when the plan has no paired rounds). */
  paired: PairedComparison[];
  /** Backlogs drained by the at-least-once pipeline, smallest first (empty when not run). */
  backlog: BacklogResult[];
  /** The exactly-once engine vs its raw loop (absent when not run; null when its bench is not in this checkout). */
  exactlyOnce?: ExactlyOnceBaseline | ExactlyOnceFailure | null | undefined;
  /** Peak memory of a triggered batch of `plan.triggeredBatchEvents` events (absent when not run). */
  triggeredBatch?: TriggeredBatchMemory | undefined;
  /** Request/reply latency of topologies/fraud-check.ts beside a raw responder (absent when not run; results before it lack it). */
  fraudCheck?: FraudCheckLatency | undefined;
  targets: TargetCheck[];
}

/** The sweep step at the plan's reference rate, if the mode reached it. */
export function referenceStep(mode: ModeResult | undefined, plan: BenchPlan): StepResult | undefined {
  return mode?.sweep.find((s) => s.targetRate === plan.referenceRate);
}

function ratio(a: number | undefined, b: number | undefined): number | null {
  if (a === undefined || b === undefined || !(b > 0) || !(a > 0)) return null;
  return Math.round((a / b) * 1000) / 1000;
}

export function compareModes(modes: readonly ModeResult[], plan: BenchPlan): Comparison[] {
  const byName = new Map(modes.map((m) => [m.name, m]));
  const out: Comparison[] = [];
  for (const m of modes) {
    if (m.baseline === undefined) continue;
    const b = byName.get(m.baseline);
    const mr = referenceStep(m, plan);
    const br = referenceStep(b, plan);
    out.push({
      mode: m.name,
      baseline: m.baseline,
      throughputRatio: m.error === undefined ? ratio(m.sustainedRate, b?.sustainedRate) : null,
      efficiencyRatio: m.error === undefined ? ratio(m.eventsPerCpuSecond, b?.eventsPerCpuSecond) : null,
      cpuRatio: ratio(mr?.cpuSecPerMillion, br?.cpuSecPerMillion),
      p99Ratio: ratio(mr?.latency.p99, br?.latency.p99),
    });
  }
  return out;
}
