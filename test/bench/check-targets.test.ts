import { describe, expect, it } from 'vitest';
import type { BacklogResult } from '../../bench/backlog-drain.js';
import type { ExactlyOnceBaseline } from '../../bench/baselines/exactly-once-baseline.js';
import { FULL_PLAN, QUICK_PLAN } from '../../bench/bench-plan.js';
import { checkTargets, targetPairs, type TargetCheck, type TargetInputs } from '../../bench/check-targets.js';
import type { PairedComparison, PairedKind } from '../../bench/paired-rounds.js';
import type { ModeResult, StepResult } from '../../bench/run-mode.js';

const NAMES = [
  'route-throughput',
  'at-least-once-throughput',
  'exactly-once-throughput',
  'exactly-once-rate',
  'micro-batch-cpu',
  'triggered-cpu',
  'triggered-batch-memory',
  'backlog-memory',
  'route-p99',
];

function step(targetRate: number, cpuSecPerMillion: number, p99: number): StepResult {
  return {
    kind: 'rate',
    targetRate,
    published: 1000,
    delivered: 1000,
    achievedRate: targetRate,
    deliveredRate: targetRate,
    latency: { count: 1000, p50: p99 / 2, p90: p99, p99, max: p99, mean: p99 / 2 },
    cpuSecPerMillion,
    natsMsgsPerEvent: 2,
    lmdbCommitsPerEvent: 0,
    rssMiB: 100,
    drained: true,
    saturated: false,
  };
}

function mode(name: string, sustainedRate: number, cpu: number, p99: number, style: ModeResult['style'] = 'real-time'): ModeResult {
  return {
    name,
    label: name,
    style,
    implementation: 'sluice',
    input: 'core',
    params: {},
    sweep: [step(10_000, cpu, p99)],
    sustainedRate,
    eventsPerCpuSecond: 1e6 / cpu,
    peakRssMiB: 100,
  };
}

function pair(a: string, b: string, kind: PairedKind, f: Partial<PairedComparison>): PairedComparison {
  return {
    name: `${a}/${b}@${kind}`,
    a,
    b,
    kind,
    rate: 10_000,
    rounds: 3,
    throughputRatio: 1,
    efficiencyRatio: 1,
    cpuRatio: 1,
    p99A: 1,
    p99B: 1,
    p99Ratio: 1,
    stepsA: [],
    stepsB: [],
    ...f,
  };
}

function backlog(events: number, peakRssMiB: number, drained = true): BacklogResult {
  return {
    mode: 'stream-route-sink',
    events,
    backlogMiB: events / 2000,
    maxUnsettled: 1000,
    totalMs: 1000,
    drainMs: 1000,
    eventsPerSec: 20_000,
    cpuSecPerMillion: 30,
    peakRssMiB,
    rssSamplesMiB: [peakRssMiB],
    drained,
  };
}

const exactlyOnce = { events: 200_000, rounds: [{}, {}, {}], throughputRatio: 0.95, sluiceEventsPerSec: 50_000 } as unknown as ExactlyOnceBaseline;

// Sweeps that would meet every target, so a row judged "met" there is a bug.
const modes = [
  mode('raw-forwarder', 100_000, 20, 10),
  mode('route', 100_000, 20, 10),
  mode('micro-batch-100ms', 100_000, 5, 100, 'micro-batch'),
  mode('triggered-2s', 100_000, 5, 2000, 'triggered'),
  mode('raw-pull-ack', 50_000, 20, 10),
  mode('stream-route-sink', 50_000, 20, 10),
];

const byName = (targets: TargetCheck[]) => new Map(targets.map((t) => [t.name, t]));

describe('checkTargets', () => {
  it('judges each target of issue 15 on its paired rounds, in one row each', () => {
    const inputs: TargetInputs = {
      modes,
      plan: FULL_PLAN,
      paired: [
        pair('route', 'raw-forwarder', 'capacity', { throughputRatio: 0.98 }),
        pair('route', 'raw-forwarder', 'rate', { p99Ratio: 1.3 }),
        pair('micro-batch-100ms', 'route', 'rate', { cpuRatio: 0.4 }),
        pair('triggered-2s', 'route', 'rate', { cpuRatio: 0.6 }),
        pair('stream-route-sink', 'raw-pull-ack', 'capacity', { throughputRatio: 0.85 }),
      ],
      backlog: [backlog(100_000, 140), backlog(1_000_000, 160)],
      exactlyOnce,
      triggeredBatch: { events: 1_000_000, peakRssMiB: 180, durationS: 60, command: 'x' },
    };
    const targets = checkTargets(inputs);
    expect(targets.map((t) => t.name)).toEqual(NAMES);
    const t = byName(targets);
    expect(Object.fromEntries(targets.map((x) => [x.name, [x.value, x.met, x.source]]))).toEqual({
      'route-throughput': [0.98, true, 'paired'],
      'at-least-once-throughput': [0.85, false, 'paired'],
      'exactly-once-throughput': [0.95, true, 'paired'],
      'exactly-once-rate': [50_000, false, 'paired'],
      'micro-batch-cpu': [0.4, true, 'paired'],
      'triggered-cpu': [0.6, false, 'paired'],
      'triggered-batch-memory': [180, false, 'run'],
      'backlog-memory': [160, true, 'run'],
      'route-p99': [1.3, false, 'paired'],
    });
    expect(t.get('route-throughput')!.detail).toContain('median of 3 paired rounds');
    expect(t.get('backlog-memory')!.detail).toContain('100,000 events: 140 MiB');
  });

  it('shows the sweeps without judging them, and says what was not measured', () => {
    const targets = checkTargets({ modes, plan: QUICK_PLAN, paired: [], backlog: [backlog(5_000, 130)], exactlyOnce: undefined });
    expect(targets.map((t) => t.name)).toEqual(NAMES);
    for (const t of targets) expect(t.met, t.name).toBeNull();
    const t = byName(targets);
    expect([t.get('route-throughput')!.value, t.get('route-throughput')!.source]).toEqual([1, 'sweep']);
    expect([t.get('micro-batch-cpu')!.value, t.get('triggered-cpu')!.value, t.get('route-p99')!.value]).toEqual([0.25, 0.25, 1]);
    expect(t.get('exactly-once-rate')!.source).toBe('none');
    expect(t.get('triggered-batch-memory')!.source).toBe('none');
    // A backlog smaller than the goal's is shown, not judged.
    expect([t.get('backlog-memory')!.value, t.get('backlog-memory')!.source]).toEqual([130, 'run']);
  });

  it('does not judge the exactly-once bench in a run without paired rounds, nor a missing or failed one', () => {
    const quick = byName(checkTargets({ modes: [], plan: QUICK_PLAN, paired: [], backlog: [], exactlyOnce }));
    expect([quick.get('exactly-once-throughput')!.value, quick.get('exactly-once-throughput')!.met]).toEqual([0.95, null]);
    const absent = byName(checkTargets({ modes: [], plan: FULL_PLAN, paired: [], backlog: [], exactlyOnce: null }));
    expect(absent.get('exactly-once-rate')!.detail).toContain('not here');
    const failed = byName(checkTargets({ modes: [], plan: FULL_PLAN, paired: [], backlog: [], exactlyOnce: { error: 'boom' } }));
    expect([failed.get('exactly-once-rate')!.met, failed.get('exactly-once-rate')!.detail]).toEqual([null, 'did not run: boom']);
  });

  it('fails the backlog target when the drain timed out, and reports a memory run that could not measure', () => {
    const t = byName(
      checkTargets({
        modes: [],
        plan: FULL_PLAN,
        paired: [],
        backlog: [backlog(1_000_000, 150, false)],
        triggeredBatch: { events: 1_000_000, peakRssMiB: null, durationS: 1, command: 'x', error: 'script absent' },
      }),
    );
    expect(t.get('backlog-memory')!.met).toBe(false);
    expect(t.get('triggered-batch-memory')).toMatchObject({ value: null, met: null, source: 'none' });
    expect(t.get('triggered-batch-memory')!.detail).toContain('script absent');
  });

  it('pairs the triggered mode by its name', () => {
    expect(targetPairs('triggered-0.5s')).toContainEqual(['triggered-0.5s', 'route', 'rate']);
  });
});
