import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchPlan } from './bench-plan.js';
import { createDriver, type Driver, type WindowResult } from './driver.js';
import type { LatencySummary } from './latency-histogram.js';
import type { ModeSpec, ModeStyle } from './mode-registry.js';
import { startProcessor, type ProcessorHandle, type ProcessorMark } from './processor-client.js';

/** One measured step of one mode. */
export interface StepResult {
  kind: 'rate' | 'capacity';
  /** Offered rate, events/s (0 for the closed-loop capacity step). */
  targetRate: number;
  published: number;
  delivered: number;
  /** Publish rate the driver achieved, events/s. */
  achievedRate: number;
  /** Sustained output rate of the window's events, events/s. */
  deliveredRate: number;
  /** Freshness: output received − publish stamp, ms. */
  latency: LatencySummary;
  /** Processor CPU (user + system, all threads) per million events, s. Equals µs per event. */
  cpuSecPerMillion: number;
  natsMsgsPerEvent: number;
  lmdbCommitsPerEvent: number;
  /** Processor RSS at the end of the step, MiB. */
  rssMiB: number;
  /** Every event came out before the drain timeout. */
  drained: boolean;
  saturated: boolean;
  /** Why the step counts as saturated, or why the sweep stopped. */
  note?: string | undefined;
}

/** Everything measured for one mode. */
export interface ModeResult {
  name: string;
  label: string;
  style: ModeStyle;
  implementation: 'raw' | 'sluice';
  baseline?: string | undefined;
  /** Where the processor reads its input: the core subject, or a JetStream stream. */
  input: 'core' | 'stream';
  params: Readonly<Record<string, number>>;
  /** Closed-loop capacity step, when the mode has one. */
  capacity?: StepResult | undefined;
  /** Sweep steps in the order run; the last one is saturated unless the ladder ran out. */
  sweep: StepResult[];
  /** Highest delivered rate of an unsaturated step, or the capacity when higher. */
  sustainedRate: number;
  /**
   * Events per second of processor CPU at its busiest unsaturated step (the capacity step when it
   * has one): the rate it would sustain with a core to itself. On a shared 2-core machine the
   * capacity is often the driver's and nats-server's limit too; this figure is the processor's.
   */
  eventsPerCpuSecond: number;
  /** Peak RSS of the processor over the whole mode, MiB. */
  peakRssMiB: number;
  /** Set when the mode could not run (e.g. a Sluice operator it needs has not landed). */
  error?: string | undefined;
}

/** Where a mode runs. */
export interface ModeRunEnv {
  url: string;
  /** Unique subject prefix for this mode, so late outputs of another mode never mix in. */
  prefix: string;
  workDir: string;
  pool: readonly Uint8Array[];
  plan: BenchPlan;
  onStep?: ((label: string) => void) | undefined;
}

/**
 * Runs one mode in a fresh processor child: a closed-loop capacity step (when it applies), then
 * the open-loop sweep over the plan's rates until a step saturates. A mode that fails to start
 * comes back with `error` set rather than failing the whole run.
 */
export async function runMode(spec: ModeSpec, env: ModeRunEnv): Promise<ModeResult> {
  const result: ModeResult = {
    name: spec.name,
    label: spec.label,
    style: spec.style,
    implementation: spec.implementation,
    baseline: spec.baseline,
    input: spec.input ?? 'core',
    params: spec.params,
    sweep: [],
    sustainedRate: 0,
    eventsPerCpuSecond: 0,
    peakRssMiB: 0,
  };
  const driver = await createDriver({ url: env.url, inSubject: `${env.prefix}.in.orders`, outWildcard: `${env.prefix}.out.>`, pool: env.pool });
  let processor: ProcessorHandle | undefined;
  try {
    processor = await startModeProcessor(spec, env);
    const plan = env.plan;
    if (spec.capacityRun) {
      env.onStep?.(`${spec.name}: capacity`);
      result.capacity = await measureStep(driver, processor, spec, plan, 'capacity', 0);
    }
    let bestP99 = Infinity;
    for (const rate of sweepRates(plan, result.capacity?.deliveredRate, spec.input === 'stream' ? plan.streamModeRates : plan.rates)) {
      env.onStep?.(`${spec.name}: ${rate} ev/s`);
      let step = await measureStep(driver, processor, spec, plan, 'rate', rate);
      judge(step, Math.min(bestP99, step.latency.p99), plan);
      if (plan.stopAtSaturation && step.saturated && step.achievedRate >= rate * plan.saturationDeliveredShare) {
        // One noisy step (another process took the cores) must not end the sweep: confirm it.
        env.onStep?.(`${spec.name}: ${rate} ev/s (confirming)`);
        const again = await measureStep(driver, processor, spec, plan, 'rate', rate);
        judge(again, Math.min(bestP99, again.latency.p99), plan);
        if (!again.saturated) {
          again.note = `second attempt; the first looked saturated (${step.note ?? ''})`;
          step = again;
        }
      }
      bestP99 = Math.min(bestP99, step.latency.p99);
      result.sweep.push(step);
      if (step.saturated && plan.stopAtSaturation) break;
    }
    const last = await processor.stop();
    processor = undefined;
    result.peakRssMiB = mib(last.maxRssBytes);
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
  } finally {
    processor?.kill();
    await driver.close();
  }
  const unsaturated = result.sweep.filter((s) => !s.saturated);
  result.sustainedRate = Math.max(0, result.capacity?.deliveredRate ?? 0, ...unsaturated.map((s) => s.deliveredRate));
  const busiest = result.capacity ?? unsaturated.at(-1);
  result.eventsPerCpuSecond = busiest !== undefined && busiest.cpuSecPerMillion > 0 ? Math.round(1e6 / busiest.cpuSecPerMillion) : 0;
  return result;
}

/** Starts the mode's processor child on the env's subjects (`<prefix>.in.orders` → `<prefix>.out.*`). */
export async function startModeProcessor(spec: ModeSpec, env: Pick<ModeRunEnv, 'url' | 'prefix' | 'workDir'>): Promise<ProcessorHandle> {
  const workDir = join(env.workDir, `${spec.name}-${env.prefix.replace(/\W/g, '_')}`);
  await mkdir(workDir, { recursive: true });
  return startProcessor({
    module: spec.module,
    params: spec.params,
    url: env.url,
    inSubject: `${env.prefix}.in.orders`,
    outPrefix: `${env.prefix}.out`,
    deadLetterSubject: `${env.prefix}.dead-letter`,
    workDir,
  });
}

/** The ladder (the plan's rates by default) below the capacity, plus steps around the capacity itself. */
export function sweepRates(plan: BenchPlan, capacity: number | undefined, ladder: readonly number[] = plan.rates): number[] {
  if (capacity === undefined || capacity <= 0 || plan.capacityFractions.length === 0) return [...ladder];
  const around = plan.capacityFractions.map((f) => roundRate(f * capacity));
  const lowest = Math.min(...around);
  const below = ladder.filter((r) => r < lowest * 0.9 || r === plan.referenceRate);
  return [...new Set([...below, ...around])].sort((a, b) => a - b);
}

function roundRate(r: number): number {
  const magnitude = 10 ** Math.max(0, Math.floor(Math.log10(r)) - 1);
  return Math.max(100, Math.round(r / magnitude) * magnitude);
}

/** One step: warm up, drain, mark, measure, drain, mark. A capacity step runs closed-loop. */
export async function measureStep(
  driver: Driver,
  processor: ProcessorHandle,
  spec: ModeSpec,
  plan: BenchPlan,
  kind: StepResult['kind'],
  rate: number,
): Promise<StepResult> {
  const stream = spec.input === 'stream';
  const drainMs = spec.holdMs + plan.drainTimeoutMs;
  const drainMaxMs = stream ? Math.max(drainMs, plan.streamDrainMaxMs) : drainMs;
  const measureMs = kind === 'capacity' ? plan.capacityMs : stepMs(plan, spec, rate);
  const window = stream ? plan.streamCapacityWindow : plan.capacityWindow;
  const publish = (ms: number) => (kind === 'capacity' ? driver.publishClosedLoop(window, ms) : driver.publishAtRate(rate, ms));

  // Warm up, then drain, so the measured CPU is not paying for earlier events.
  await publish(plan.warmupMs);
  await driver.drain(drainMs, drainMaxMs);
  const before = await processor.mark();
  driver.openWindow();
  await publish(measureMs);
  driver.closeWindow();
  const drained = await driver.drain(drainMs, drainMaxMs);
  const after = await processor.mark();
  // Late delivery within a quarter of the step is noise (a busy machine), not a rate deficit;
  // a processor really falling behind shows in p99 and in the drain.
  const graceMs = Math.max(plan.p99SlackMs, measureMs / 4);
  return toStep(kind, rate, driver.windowResult(spec.holdMs, graceMs), before, after, drained);
}

function stepMs(plan: BenchPlan, spec: ModeSpec, rate: number): number {
  const ms = plan.countPerStep !== undefined ? (plan.countPerStep * 1000) / rate : plan.measureMs;
  return Math.max(ms, plan.minFlushPeriodsPerStep * spec.holdMs);
}

function toStep(kind: StepResult['kind'], rate: number, w: WindowResult, before: ProcessorMark, after: ProcessorMark, drained: boolean): StepResult {
  const events = Math.max(1, w.published);
  return {
    kind,
    targetRate: rate,
    published: w.published,
    delivered: w.delivered,
    achievedRate: round(w.achievedRate),
    deliveredRate: round(w.deliveredRate),
    latency: w.latency,
    cpuSecPerMillion: round((after.cpuUs - before.cpuUs) / events, 3),
    natsMsgsPerEvent: round((after.natsMsgs - before.natsMsgs) / events, 4),
    lmdbCommitsPerEvent: round((after.lmdbCommits - before.lmdbCommits) / events, 5),
    rssMiB: mib(after.rssBytes),
    drained,
    saturated: false,
  };
}

/** Marks a sweep step saturated: output falls behind, events are lost, or p99 explodes. */
function judge(step: StepResult, bestP99: number, plan: BenchPlan): void {
  const reasons: string[] = [];
  if (step.achievedRate < step.targetRate * plan.saturationDeliveredShare) {
    reasons.push(`driver reached only ${Math.round(step.achievedRate)} ev/s`);
  }
  if (step.deliveredRate < step.targetRate * plan.saturationDeliveredShare) {
    reasons.push(`output ${Math.round(step.deliveredRate)} ev/s < ${plan.saturationDeliveredShare * 100}% of offered`);
  }
  if (!step.drained) reasons.push(`${step.published - step.delivered} events not out before the drain timeout`);
  const limit = plan.p99Factor * bestP99 + plan.p99SlackMs;
  if (step.latency.p99 > limit) reasons.push(`p99 ${step.latency.p99} ms > ${round(limit, 1)} ms`);
  step.saturated = reasons.length > 0;
  if (step.saturated) step.note = reasons.join('; ');
}

function mib(bytes: number): number {
  return round(bytes / 1048576, 1);
}

function round(v: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
