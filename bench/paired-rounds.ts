import { median } from './baselines/baseline-pair.js';
import { createDriver, type Driver } from './driver.js';
import type { ModeSpec } from './mode-registry.js';
import type { ProcessorHandle } from './processor-client.js';
import { measureStep, startModeProcessor, type ModeRunEnv, type StepResult } from './run-mode.js';

/** What a paired comparison measures: closed-loop capacity, or a fixed offered rate. */
export type PairedKind = 'capacity' | 'rate';

/** Two modes measured alternately (A B A B ...) so that load from elsewhere hits both alike. */
export interface PairedComparison {
  /** Stable id, e.g. `route/raw-forwarder@capacity`. */
  name: string;
  a: string;
  b: string;
  kind: PairedKind;
  /** Offered rate for kind 'rate', events/s. */
  rate: number;
  rounds: number;
  /** Medians over the rounds of a ÷ b, each round's ratio taken from its own A and B steps. */
  throughputRatio: number;
  /** Events per processor CPU-second, a ÷ b (higher = a is cheaper). */
  efficiencyRatio: number;
  /** CPU per event, a ÷ b (lower = a is cheaper). */
  cpuRatio: number;
  /** Median p99 of each side, ms. */
  p99A: number;
  p99B: number;
  /** p99, a ÷ b: median of the per-round ratios (lower = a is fresher). */
  p99Ratio: number;
  stepsA: StepResult[];
  stepsB: StepResult[];
}

interface Rig {
  driver: Driver;
  processor: ProcessorHandle;
}

/**
 * Runs `a` and `b` in two processor children at once, on separate subjects, and measures them in
 * alternation for `rounds` rounds. Ratios of alternating rounds are what a shared machine can
 * still compare: a burst of load from another process lands on one round of each, not on one mode.
 */
export async function runPaired(a: ModeSpec, b: ModeSpec, kind: PairedKind, rate: number, env: ModeRunEnv, rounds: number): Promise<PairedComparison> {
  const rigs: Rig[] = [];
  try {
    for (const [i, spec] of [a, b].entries()) {
      const prefix = `${env.prefix}.p${i}`;
      const driver = await createDriver({ url: env.url, inSubject: `${prefix}.in.orders`, outWildcard: `${prefix}.out.>`, pool: env.pool });
      rigs.push({
        driver,
        processor: await startModeProcessor(spec, { ...env, prefix }).catch(async (err: unknown) => {
          await driver.close();
          throw err;
        }),
      });
    }
    const stepsA: StepResult[] = [];
    const stepsB: StepResult[] = [];
    for (let r = 0; r < rounds; r++) {
      env.onStep?.(`${a.name} vs ${b.name} @ ${kind === 'capacity' ? 'capacity' : `${rate} ev/s`}: round ${r + 1}/${rounds}`);
      stepsA.push(await measureStep(rigs[0]!.driver, rigs[0]!.processor, a, env.plan, kind, rate));
      stepsB.push(await measureStep(rigs[1]!.driver, rigs[1]!.processor, b, env.plan, kind, rate));
    }
    const perRound = (f: (s: StepResult) => number) => round3(median(stepsA.map((s, i) => safeDiv(f(s), f(stepsB[i]!)))));
    return {
      name: `${a.name}/${b.name}@${kind === 'capacity' ? 'capacity' : rate}`,
      a: a.name,
      b: b.name,
      kind,
      rate,
      rounds,
      throughputRatio: perRound((s) => s.deliveredRate),
      efficiencyRatio: perRound((s) => safeDiv(1e6, s.cpuSecPerMillion)),
      cpuRatio: perRound((s) => s.cpuSecPerMillion),
      p99A: median(stepsA.map((s) => s.latency.p99)),
      p99B: median(stepsB.map((s) => s.latency.p99)),
      p99Ratio: perRound((s) => s.latency.p99),
      stepsA,
      stepsB,
    };
  } finally {
    for (const rig of rigs) {
      await rig.processor.stop().catch(() => rig.processor.kill());
      await rig.driver.close();
    }
  }
}

function safeDiv(x: number, y: number): number {
  return y > 0 ? x / y : 0;
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
