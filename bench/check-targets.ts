import type { BacklogResult } from './backlog-drain.js';
import type { ExactlyOnceBaseline, ExactlyOnceFailure } from './baselines/exactly-once-baseline.js';
import type { BenchPlan } from './bench-plan.js';
import { referenceStep } from './bench-result.js';
import type { PairedComparison, PairedKind } from './paired-rounds.js';
import type { ModeResult } from './run-mode.js';
import type { TriggeredBatchMemory } from './triggered-batch-memory.js';

/**
 * Where a target's value comes from. Only 'paired' and 'run' values are judged (`met` is a
 * boolean); a 'sweep' value is shown for orientation only, because two sweeps run minutes apart on
 * a shared machine do not compare.
 * - 'paired': medians of per-round ratios of two sides measured alternately in this run;
 * - 'sweep': the two modes' own sweeps (a run without paired rounds, such as `--quick`);
 * - 'run': one measurement of its own (peak memory);
 * - 'none': not measured in this run.
 */
export type TargetSource = 'paired' | 'sweep' | 'run' | 'none';

/** A target of the benchmark issue (issue 15), checked against this run. */
export interface TargetCheck {
  /** Stable id, e.g. `route-throughput`. */
  name: string;
  goal: string;
  /** A ratio (Sluice ÷ its baseline), events/s or MiB, as the goal says; null when not measured. */
  value: number | null;
  /** Null when not judged: not measured, or measured in a way the goal does not state (see `detail`). */
  met: boolean | null;
  source: TargetSource;
  /** What the value is (which pair, how many rounds, which size), or why there is none. */
  detail: string;
}

/** Everything of a run the targets are judged on. */
export interface TargetInputs {
  modes: readonly ModeResult[];
  plan: BenchPlan;
  paired: readonly PairedComparison[];
  backlog: readonly BacklogResult[];
  /** Null when bench/exactly-once.bench.ts is absent; undefined when not run. */
  exactlyOnce?: ExactlyOnceBaseline | ExactlyOnceFailure | null | undefined;
  triggeredBatch?: TriggeredBatchMemory | undefined;
}

/** The thresholds of issue 15. */
export const TARGET_LIMITS = {
  routeThroughputRatio: 0.97,
  atLeastOnceThroughputRatio: 0.9,
  exactlyOnceThroughputRatio: 0.9,
  exactlyOnceEventsPerSec: 55_000,
  batchCpuRatio: 0.5,
  triggeredBatchPeakRssMiB: 150,
  /**
   * A 1,000,000-event backlog (~540 MiB of events) drained by `stream-route-sink`. The source holds
   * at most `maxUnsettled` (1,000) events (≤ 1 MiB) delivered and not settled, so the processor
   * needs its base (Node, the NATS client, rxjs and the runtime: ~120-145 MiB RSS in these runs,
   * 144 MiB for a 100,000-event backlog) plus the tens of MiB V8 lets its heap grow between major
   * collections. 200 MiB leaves that room and is well under half of the backlog: a drain that
   * held a fraction of it would exceed it.
   */
  backlogPeakRssMiB: 200,
  routeP99Ratio: 1.2,
} as const;

/** Events of the memory targets (the triggered batch and the backlog). */
export const MEMORY_TARGET_EVENTS = 1_000_000;

/** The paired comparisons the run measures, as [a, b, kind]; the triggered mode's name follows its period. */
export function targetPairs(triggeredMode: string): readonly (readonly [string, string, PairedKind])[] {
  return [
    ['route', 'raw-forwarder', 'capacity'],
    ['route', 'raw-forwarder', 'rate'],
    ['micro-batch-100ms', 'route', 'rate'],
    [triggeredMode, 'route', 'rate'],
    // The at-least-once path: each Sluice stream pipeline beside the hand-written loop doing the
    // same work; the first is the target, the others say what acking and ids cost.
    ['stream-route-sink', 'raw-pull-ack', 'capacity'],
    ['stream-ordered-route-sink', 'raw-pull-ack', 'capacity'],
    ['stream-route-durable-sink', 'raw-pull-publish-ack', 'capacity'],
  ];
}

/**
 * The targets of issue 15, one row each, from the paired rounds (and the exactly-once bench's own
 * alternating runs, and the memory runs) of this run. Without them a row shows the sweeps' ratio,
 * not judged, or nothing.
 */
export function checkTargets(inputs: TargetInputs): TargetCheck[] {
  const { modes, plan, paired } = inputs;
  const rate = plan.referenceRate.toLocaleString('en');
  const triggered = modes.find((m) => m.style === 'triggered')?.name ?? 'triggered-2s';
  const L = TARGET_LIMITS;
  const byName = new Map(modes.map((m) => [m.name, m]));
  const sustained = (name: string) => byName.get(name)?.sustainedRate;
  const cpuAtRate = (name: string) => referenceStep(byName.get(name), plan)?.cpuSecPerMillion;
  const p99AtRate = (name: string) => referenceStep(byName.get(name), plan)?.latency.p99;

  /** A ratio target on a pair: paired when measured so, else the sweeps' ratio (not judged). */
  const pairTarget = (
    name: string,
    goal: string,
    [a, b, kind]: readonly [string, string, PairedKind],
    pick: (p: PairedComparison) => number,
    sweep: number | null,
    ok: (v: number) => boolean,
  ): TargetCheck => {
    const p = paired.find((x) => x.a === a && x.b === b && x.kind === kind);
    const at = kind === 'capacity' ? 'at capacity (closed loop)' : `at ${rate} ev/s`;
    if (p !== undefined) {
      const v = pick(p);
      return { name, goal, value: v, met: ok(v), source: 'paired', detail: `${a} ÷ ${b} ${at}, median of ${p.rounds} paired rounds` };
    }
    if (sweep !== null) return { name, goal, value: sweep, met: null, source: 'sweep', detail: `${a} ÷ ${b} from their sweeps: no paired rounds, not judged` };
    return { name, goal, value: null, met: null, source: 'none', detail: `${a} vs ${b} did not run` };
  };

  return [
    pairTarget(
      'route-throughput',
      `route sustained throughput >= ${L.routeThroughputRatio} x hand-written forwarder`,
      ['route', 'raw-forwarder', 'capacity'],
      (p) => p.throughputRatio,
      ratio(sustained('route'), sustained('raw-forwarder')),
      (v) => v >= L.routeThroughputRatio,
    ),
    pairTarget(
      'at-least-once-throughput',
      `at-least-once pipeline (t.stream + route + sink) throughput >= ${L.atLeastOnceThroughputRatio} x raw pull consume + ack`,
      ['stream-route-sink', 'raw-pull-ack', 'capacity'],
      (p) => p.throughputRatio,
      ratio(sustained('stream-route-sink'), sustained('raw-pull-ack')),
      (v) => v >= L.atLeastOnceThroughputRatio,
    ),
    ...exactlyOnceTargets(inputs.exactlyOnce, plan),
    pairTarget(
      'micro-batch-cpu',
      `micro-batch-100ms CPU per event <= ${L.batchCpuRatio} x route's, at ${rate} ev/s`,
      ['micro-batch-100ms', 'route', 'rate'],
      (p) => p.cpuRatio,
      ratio(cpuAtRate('micro-batch-100ms'), cpuAtRate('route')),
      (v) => v <= L.batchCpuRatio,
    ),
    pairTarget(
      'triggered-cpu',
      `${triggered} CPU per event <= ${L.batchCpuRatio} x route's, at ${rate} ev/s`,
      [triggered, 'route', 'rate'],
      (p) => p.cpuRatio,
      ratio(cpuAtRate(triggered), cpuAtRate('route')),
      (v) => v <= L.batchCpuRatio,
    ),
    triggeredBatchTarget(inputs.triggeredBatch),
    backlogTarget(inputs.backlog),
    pairTarget(
      'route-p99',
      `real-time route p99 <= ${L.routeP99Ratio} x hand-written forwarder's, at ${rate} ev/s`,
      ['route', 'raw-forwarder', 'rate'],
      (p) => p.p99Ratio,
      ratio(p99AtRate('route'), p99AtRate('raw-forwarder')),
      (v) => v <= L.routeP99Ratio,
    ),
  ];
}

/** Two rows: the engine's throughput ÷ the raw loop's, and its own events/s. */
function exactlyOnceTargets(eo: ExactlyOnceBaseline | ExactlyOnceFailure | null | undefined, plan: BenchPlan): TargetCheck[] {
  const L = TARGET_LIMITS;
  const ratioGoal = `exactly-once engine throughput >= ${L.exactlyOnceThroughputRatio} x raw consume + publish with message ids`;
  const rateGoal = `exactly-once engine throughput >= ${L.exactlyOnceEventsPerSec.toLocaleString('en')} events/s`;
  if (eo === undefined || eo === null || 'error' in eo) {
    const detail = eo === null ? 'bench/exactly-once.bench.ts is not here' : eo === undefined ? 'not run' : `did not run: ${eo.error}`;
    return [
      { name: 'exactly-once-throughput', goal: ratioGoal, value: null, met: null, source: 'none', detail },
      { name: 'exactly-once-rate', goal: rateGoal, value: null, met: null, source: 'none', detail },
    ];
  }
  // Each run of that bench measures both sides one after the other: paired rounds, judged when
  // the run is one that pairs (not --quick, whose 5,000-event single run is a smoke test).
  const judged = plan.pairedRounds > 0;
  const how = `${eo.rounds.length} round(s) of ${eo.events.toLocaleString('en')} events, bench/exactly-once.bench.ts`;
  const detail = judged ? `median of ${how}` : `${how}: no paired rounds in this run, not judged`;
  const source: TargetSource = judged ? 'paired' : 'sweep';
  return [
    {
      name: 'exactly-once-throughput',
      goal: ratioGoal,
      value: eo.throughputRatio,
      met: judged ? eo.throughputRatio >= L.exactlyOnceThroughputRatio : null,
      source,
      detail: `engine ÷ raw loop, ${detail}`,
    },
    {
      name: 'exactly-once-rate',
      goal: rateGoal,
      value: eo.sluiceEventsPerSec,
      met: judged ? eo.sluiceEventsPerSec >= L.exactlyOnceEventsPerSec : null,
      source,
      detail: `engine events/s, ${detail}`,
    },
  ];
}

function triggeredBatchTarget(tb: TriggeredBatchMemory | undefined): TargetCheck {
  const name = 'triggered-batch-memory';
  const limit = TARGET_LIMITS.triggeredBatchPeakRssMiB;
  const goal = `triggered batch of ${MEMORY_TARGET_EVENTS.toLocaleString('en')} events: peak RSS <= ${limit} MiB`;
  if (tb === undefined) return { name, goal, value: null, met: null, source: 'none', detail: 'not run (--batch-events 0, or --quick)' };
  if (tb.peakRssMiB === null) return { name, goal, value: null, met: null, source: 'none', detail: `not measured: ${tb.error ?? 'no figure'}` };
  const full = tb.events >= MEMORY_TARGET_EVENTS;
  return {
    name,
    goal,
    value: tb.peakRssMiB,
    met: full ? tb.peakRssMiB <= limit : null,
    source: 'run',
    detail: [
      `peak RSS MiB, ${tb.events.toLocaleString('en')} events, \`${tb.command}\``,
      ...(tb.peakRssAnonMiB !== undefined ? [`anonymous RSS (without file-backed pages such as LMDB's map) ${tb.peakRssAnonMiB} MiB`] : []),
      ...(full ? [] : ['smaller than the goal, not judged']),
    ].join('; '),
  };
}

function backlogTarget(backlog: readonly BacklogResult[]): TargetCheck {
  const name = 'backlog-memory';
  const limit = TARGET_LIMITS.backlogPeakRssMiB;
  const goal = `${MEMORY_TARGET_EVENTS.toLocaleString('en')}-event backlog drained by stream-route-sink: peak RSS <= ${limit} MiB`;
  const ran = backlog.filter((b) => b.error === undefined);
  const largest = ran.reduce<BacklogResult | undefined>((a, b) => (a === undefined || b.events > a.events ? b : a), undefined);
  if (largest === undefined) {
    const why = backlog.find((b) => b.error !== undefined)?.error;
    return { name, goal, value: null, met: null, source: 'none', detail: why !== undefined ? `did not run: ${why}` : 'no backlog drained in this run' };
  }
  const full = largest.events >= MEMORY_TARGET_EVENTS;
  const others = ran.filter((b) => b !== largest).map((b) => `${b.events.toLocaleString('en')} events: ${b.peakRssMiB} MiB`);
  return {
    name,
    goal,
    value: largest.peakRssMiB,
    met: full ? largest.drained && largest.peakRssMiB <= limit : null,
    source: 'run',
    detail: [
      `peak RSS MiB, ${largest.events.toLocaleString('en')} events${largest.drained ? '' : ', NOT drained before the timeout'}`,
      ...others,
      ...(full ? [] : ['smaller than the goal, not judged']),
    ].join('; '),
  };
}

function ratio(a: number | undefined, b: number | undefined): number | null {
  if (a === undefined || b === undefined || !(b > 0) || !(a > 0)) return null;
  return Math.round((a / b) * 1000) / 1000;
}
