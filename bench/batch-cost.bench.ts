/**
 * What a batch style costs beside real-time routing, per event, on the same machine at the same
 * moment: each batch mode is measured against `route` in paired rounds (A B A B ..., two
 * processor children, bench/paired-rounds.ts) at one offered rate, and the figure is the median
 * of the per-round CPU-per-event ratios (issue 15: micro-batch and triggered batch ≤ 0.5 × route
 * at 10,000 ev/s).
 *
 * Run: node --conditions=sluice-source --import tsx bench/batch-cost.bench.ts
 *        [--pairs micro-batch-100ms,triggered-2s,triggered-2s-lmdb,triggered-2s-file,raw-micro-batch-100ms,
 *                 raw-triggered-2s,raw-receive-only,micro-batch-100ms/raw-micro-batch-100ms] [--rounds 3] [--rate 10000]
 *        [--step-ms 5000] [--nats-url nats://...] [--json]
 * A pair is `A` (measured against `route`) or `A/B` (against B). The `raw-*` modes are the
 * hand-written baselines of bench/mode-registry.ts `batchBaselineSpecs`; `raw-receive-only` is the
 * floor (receive and count, nothing else) of any design taking one NATS message per event.
 * Prints one JSON document with `--json` (fields: see {@link BatchCostResult}), else a line per
 * pair. `SLUICE_BENCH_CPU_PROF=<dir>` also writes a CPU profile of each processor.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startNatsServer } from '../src/runtime/nats-server-process.js';
import { FULL_PLAN, type BenchPlan } from './bench-plan.js';
import { median } from './baselines/baseline-pair.js';
import { batchBaselineSpecs, modeSpecs, type ModeSpec } from './mode-registry.js';
import { runPaired } from './paired-rounds.js';
import { makeOrderPool } from './workload.js';

/** One batch mode against `route` (or against the mode named in `against`). */
export interface BatchCostPair {
  /** The batch mode (A). */
  mode: string;
  /** B: `route` unless the pair was given as `A/B`. */
  against: string;
  rounds: number;
  rate: number;
  /** Median over the rounds of A's CPU per event ÷ B's (against route, the target: ≤ 0.5). */
  cpuRatio: number;
  /** Each round's ratio, in order. */
  cpuRatios: number[];
  /** Median CPU per event of each side, µs (= CPU-s per million events); `cpuUsRoute` is B's, route or not. */
  cpuUsA: number;
  cpuUsRoute: number;
  /** Median delivered rate ratio, A ÷ B (about 1 when both keep up; 0 for `raw-receive-only`, which delivers nothing). */
  throughputRatio: number;
  /** Median p99 freshness of each side, ms (`p99Route` is B's). */
  p99A: number;
  p99Route: number;
}

/** The JSON document of a run. */
export interface BatchCostResult {
  bench: 'batch-cost';
  date: string;
  node: string;
  /** Load average (1 min) at the start and at the end. */
  load: [number, number];
  pairs: BatchCostPair[];
}

/**
 * Batch modes this bench knows: the registry's, its hand-written batch baselines and floor
 * (`batchBaselineSpecs`), plus the triggered batch in LMDB (`-lmdb`) and in files (`-file`, `fileBatchBuffer`).
 */
export function batchModeSpecs(triggerPeriodMs: number): ModeSpec[] {
  const specs = modeSpecs({ triggerPeriodMs });
  const triggered = specs.find((s) => s.style === 'triggered')!;
  return [
    ...specs,
    ...batchBaselineSpecs({ triggerPeriodMs }),
    {
      ...triggered,
      name: `${triggered.name}-lmdb`,
      label: `${triggered.label.replace('in-memory buffer', 'lmdbBatchBuffer')}`,
      params: { ...triggered.params, lmdb: 1 },
    },
    {
      ...triggered,
      name: `${triggered.name}-file`,
      label: `${triggered.label.replace('in-memory buffer', 'fileBatchBuffer')}`,
      params: { ...triggered.params, file: 1 },
    },
  ];
}

/** Options of {@link runBatchCost}. */
export interface BatchCostOptions {
  pairs?: readonly string[] | undefined;
  rounds?: number | undefined;
  rate?: number | undefined;
  stepMs?: number | undefined;
  natsUrl?: string | undefined;
  onStep?: ((label: string) => void) | undefined;
}

/** Runs every pair (each batch mode vs `route`) on one nats-server (a private one unless `natsUrl`). */
export async function runBatchCost(options: BatchCostOptions = {}): Promise<BatchCostResult> {
  const rate = options.rate ?? 10_000;
  const rounds = options.rounds ?? 3;
  const plan: BenchPlan = { ...FULL_PLAN, preset: 'custom', measureMs: options.stepMs ?? FULL_PLAN.measureMs };
  const specs = batchModeSpecs(plan.triggerPeriodMs);
  const spec = (name: string): ModeSpec => {
    const found = specs.find((s) => s.name === name);
    if (found === undefined) throw new Error(`unknown mode '${name}' (known: ${specs.map((s) => s.name).join(', ')})`);
    return found;
  };
  const wanted = options.pairs ?? ['micro-batch-100ms', 'triggered-2s'];
  const loadStart = loadavg()[0] ?? 0;
  const server = options.natsUrl === undefined ? await startNatsServer({ config: { max_pending: 256 * 1024 * 1024 } }) : undefined;
  const url = options.natsUrl ?? server!.url;
  const workDir = await mkdtemp(join(tmpdir(), 'sluice-batch-cost-'));
  const pool = makeOrderPool({ minBytes: plan.minBytes, maxBytes: plan.maxBytes, seed: plan.seed });
  const runId = Date.now().toString(36);
  const pairs: BatchCostPair[] = [];
  try {
    for (const [i, pair] of wanted.entries()) {
      const [name = '', against = 'route'] = pair.split('/');
      const p = await runPaired(
        spec(name),
        spec(against),
        'rate',
        rate,
        { url, prefix: `bench.${runId}.bc${i}`, workDir, pool, plan, onStep: options.onStep },
        rounds,
      );
      const cpuRatios = p.stepsA.map((s, r) => round3(s.cpuSecPerMillion / Math.max(1e-9, p.stepsB[r]!.cpuSecPerMillion)));
      pairs.push({
        mode: name,
        against,
        rounds,
        rate,
        cpuRatio: p.cpuRatio,
        cpuRatios,
        cpuUsA: round3(median(p.stepsA.map((s) => s.cpuSecPerMillion))),
        cpuUsRoute: round3(median(p.stepsB.map((s) => s.cpuSecPerMillion))),
        throughputRatio: p.throughputRatio,
        p99A: p.p99A,
        p99Route: p.p99B,
      });
    }
  } finally {
    await server?.dispose();
    await rm(workDir, { recursive: true, force: true });
  }
  return { bench: 'batch-cost', date: new Date().toISOString(), node: process.version, load: [round3(loadStart), round3(loadavg()[0] ?? 0)], pairs };
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string): string | undefined => {
    const at = process.argv.indexOf(`--${name}`);
    return at >= 0 ? process.argv[at + 1] : undefined;
  };
  const num = (name: string): number | undefined => (arg(name) === undefined ? undefined : Number(arg(name)));
  const json = process.argv.includes('--json');
  const result = await runBatchCost({
    pairs: arg('pairs')?.split(','),
    rounds: num('rounds'),
    rate: num('rate'),
    stepMs: num('step-ms'),
    natsUrl: arg('nats-url'),
    onStep: json ? undefined : (l) => process.stderr.write(`${l}\n`),
  });
  if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else {
    process.stdout.write(`load ${result.load[0]} -> ${result.load[1]}\n`);
    for (const p of result.pairs) {
      process.stdout.write(
        `${p.mode} ÷ ${p.against} @ ${p.rate} ev/s: CPU/event ${p.cpuRatio} (rounds ${p.cpuRatios.join(', ')}; ${p.cpuUsA} vs ${p.cpuUsRoute} µs), p99 ${p.p99A} vs ${p.p99Route} ms\n`,
      );
    }
  }
}
