import type { BacklogResult } from './backlog-drain.js';
import type { FraudCheckLatency } from './fraud-check-latency.js';
import type { BaselinePair } from './baselines/baseline-pair.js';
import type { BenchPlan } from './bench-plan.js';
import type { PairedComparison } from './paired-rounds.js';
import type { ModeResult, StepResult } from './run-mode.js';

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

/** A target from the issue, checked against this run. */
export interface TargetCheck {
  name: string;
  goal: string;
  value: number | null;
  /** Null when a mode it needs did not run. */
  met: boolean | null;
  /** Where the value comes from: alternating paired rounds, or the modes' sweeps. */
  source: 'paired' | 'sweep';
}

/** The one JSON document a run produces (`--json` prints it; bench/results/ keeps the full run's). */
export interface BenchResult {
  bench: 'sluice';
  /**
   * Bumped when the shape or the method changes, so old results are not compared blindly.
   * 2: the at-least-once modes (stream input), their pairs and target, and `backlog`.
   */
  schema: 2;
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

/** The pairs the targets are judged on, as [a, b, kind]; see {@link checkTargets}. */
export const TARGET_PAIRS = [
  ['route', 'raw-forwarder', 'capacity'],
  ['route', 'raw-forwarder', 'rate'],
  ['micro-batch-100ms', 'route', 'rate'],
  // The at-least-once path (issue 9): each Sluice stream pipeline beside the hand-written loop
  // doing the same work; the first is the target, the others say what acking and ids cost.
  ['stream-route-sink', 'raw-pull-ack', 'capacity'],
  ['stream-ordered-route-sink', 'raw-pull-ack', 'capacity'],
  ['stream-route-durable-sink', 'raw-pull-publish-ack', 'capacity'],
] as const;

/**
 * The targets: the three of the benchmark issue and the at-least-once one of issue 9, from the
 * paired (alternating) measurements when the run has them, else from the sweeps.
 */
export function checkTargets(modes: readonly ModeResult[], plan: BenchPlan, paired: readonly PairedComparison[] = []): TargetCheck[] {
  const byName = new Map(modes.map((m) => [m.name, m]));
  const route = byName.get('route');
  const forwarder = byName.get('raw-forwarder');
  const mb100 = byName.get('micro-batch-100ms');
  const find = (a: string, b: string, kind: string) => paired.find((p) => p.a === a && p.b === b && p.kind === kind);
  const pThroughput = find('route', 'raw-forwarder', 'capacity');
  const pCpu = find('micro-batch-100ms', 'route', 'rate');
  const pP99 = find('route', 'raw-forwarder', 'rate');
  const pAlo = find('stream-route-sink', 'raw-pull-ack', 'capacity');
  const alo = pAlo?.throughputRatio ?? ratio(byName.get('stream-route-sink')?.sustainedRate, byName.get('raw-pull-ack')?.sustainedRate);
  const throughput = pThroughput?.throughputRatio ?? ratio(route?.sustainedRate, forwarder?.sustainedRate);
  const cpu = pCpu?.cpuRatio ?? ratio(referenceStep(mb100, plan)?.cpuSecPerMillion, referenceStep(route, plan)?.cpuSecPerMillion);
  const p99 = pP99?.p99A ?? referenceStep(route, plan)?.latency.p99 ?? null;
  const rate = plan.referenceRate.toLocaleString('en');
  const src = (p: PairedComparison | undefined) => (p !== undefined ? 'paired' : 'sweep');
  return [
    {
      name: 'route-throughput',
      goal: 'route operator sustained throughput >= 0.8 x hand-written forwarder',
      value: throughput,
      met: throughput === null ? null : throughput >= 0.8,
      source: src(pThroughput),
    },
    {
      name: 'micro-batch-cpu',
      goal: `micro-batch (maxWait 100 ms) CPU per event <= 1/3 of real-time route's, at ${rate} ev/s`,
      value: cpu,
      met: cpu === null ? null : cpu <= 1 / 3,
      source: src(pCpu),
    },
    { name: 'route-p99', goal: `real-time route p99 freshness < 5 ms at ${rate} ev/s`, value: p99, met: p99 === null ? null : p99 < 5, source: src(pP99) },
    {
      name: 'at-least-once-throughput',
      goal: 'at-least-once pipeline (t.stream + route + sink) sustained throughput >= 0.9 x hand-written pull consume + ack loop',
      value: alo,
      met: alo === null ? null : alo >= 0.9,
      source: src(pAlo),
    },
  ];
}
