import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, platform, release, tmpdir, totalmem } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { startNatsServer, type NatsServerHandle } from '../src/runtime/nats-server-process.js';
import type { BaselinePair } from './baselines/baseline-pair.js';
import { exactlyOnceBaseline, type ExactlyOnceBaseline, type ExactlyOnceFailure } from './baselines/exactly-once-baseline.js';
import { jetstreamConsumeBaseline } from './baselines/jetstream-consume.js';
import { lmdbPutsBaseline } from './baselines/lmdb-puts.js';
import { rxjsBufferBaseline } from './baselines/rxjs-buffer.js';
import { failedBacklog, runBacklogDrain, type BacklogResult } from './backlog-drain.js';
import { FRAUD_CHECK_MODE, fraudCheckLine, fraudCheckPlan, runFraudCheckLatency, type FraudCheckLatency } from './fraud-check-latency.js';
import { FULL_PLAN, QUICK_PLAN, type BenchPlan } from './bench-plan.js';
import { compareModes, type BenchResult, type MachineInfo } from './bench-result.js';
import { checkTargets, targetPairs } from './check-targets.js';
import { renderLatencyChart } from './latency-chart.js';
import { markdownReport } from './markdown-report.js';
import { modeSpecs } from './mode-registry.js';
import { runPaired, type PairedComparison } from './paired-rounds.js';
import { createProgress } from './progress.js';
import { runMode, type ModeResult } from './run-mode.js';
import { runTriggeredBatchMemory, type TriggeredBatchMemory } from './triggered-batch-memory.js';
import { makeOrderPool } from './workload.js';

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
const REPORT = 'report.md';
const CHART = 'latency-vs-throughput.svg';
const JSON_FILE = 'result.json';

/** Parsed command line. */
interface BenchOptions {
  quick: boolean;
  json: boolean;
  progress: boolean;
  out?: string;
  natsUrl?: string;
  modes?: string[];
  rates?: number[];
  count?: number;
  stepMs?: number;
  minBytes?: number;
  maxBytes?: number;
  triggerPeriodMs?: number;
  seed?: number;
  rounds?: number;
  backlogEvents?: number[];
  batchEvents?: number;
  baselines: boolean;
}

/** `--modes` names of the sections that are not sweeps: the exactly-once bench and the triggered batch's memory. */
const EXACTLY_ONCE_SECTION = 'exactly-once';
const BATCH_MEMORY_SECTION = 'triggered-batch-memory';

/**
 * `npm run bench` (= `node --import tsx bench/main.ts`): runs the benchmark (see
 * {@link runBench}) and resolves with the process exit code: 0 when it ran (whether or not the
 * targets were met), 1 when it could not (no nats-server, a bad option), with the reason on stderr.
 */
export async function main(argv: string[]): Promise<number> {
  try {
    await runBench(argv);
    return 0;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    // Commander has already printed the help or the usage error.
    if (code === 'commander.helpDisplayed' || code === 'commander.help') return 0;
    if (typeof code !== 'string' || !code.startsWith('commander.')) {
      process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    }
    return 1;
  }
}

/**
 * Runs every mode and baseline against one nats-server (a private one unless `--nats-url`),
 * writes report.md, the SVG chart and result.json to the output directory, and prints the JSON
 * document with `--json` (else where the files are and the targets). Resolves with the result.
 * @throws NatsServerNotFoundError without a nats-server; CommanderError for a bad option.
 */
export async function runBench(argv: string[]): Promise<BenchResult> {
  const opts = parseArgs(argv);
  const plan = buildPlan(opts);
  const started = performance.now();
  const machineStart = loadavg()[0] ?? 0;
  const server: NatsServerHandle | undefined = opts.natsUrl === undefined ? await startNatsServer({ config: { max_pending: 256 * 1024 * 1024 } }) : undefined;
  const url = opts.natsUrl ?? server!.url;
  const workDir = await mkdtemp(join(tmpdir(), 'sluice-bench-'));
  const specs = modeSpecs({ triggerPeriodMs: plan.triggerPeriodMs }).filter((s) => opts.modes === undefined || opts.modes.includes(s.name));
  const baselineCount = opts.baselines ? 3 : 0;
  const triggeredName = specs.find((s) => s.style === 'triggered')?.name ?? 'triggered-2s';
  const pairs = plan.pairedRounds > 0 ? targetPairs(triggeredName).filter(([a, b]) => specs.some((s) => s.name === a) && specs.some((s) => s.name === b)) : [];
  const backlogSpec = specs.find((s) => s.name === BACKLOG_MODE);
  const backlogSizes = backlogSpec !== undefined ? plan.backlogEvents : [];
  const selected = (section: string) => opts.modes === undefined || opts.modes.includes(section);
  const runFraudCheck = selected(FRAUD_CHECK_MODE);
  const runExactlyOnce = selected(EXACTLY_ONCE_SECTION) && plan.exactlyOnceEvents > 0;
  const runBatchMemory = selected(BATCH_MEMORY_SECTION) && plan.triggeredBatchEvents > 0;
  const progress = createProgress(
    specs.length + pairs.length + backlogSizes.length + baselineCount + [runFraudCheck, runExactlyOnce, runBatchMemory].filter(Boolean).length,
    opts.json || !opts.progress ? 'off' : process.stderr.isTTY ? 'bar' : 'lines',
  );
  const runId = Date.now().toString(36);
  const modes: ModeResult[] = [];
  const baselines: BaselinePair[] = [];
  const paired: PairedComparison[] = [];
  const backlog: BacklogResult[] = [];
  let fraudCheck: FraudCheckLatency | undefined;
  let exactlyOnce: ExactlyOnceBaseline | ExactlyOnceFailure | null | undefined;
  let triggeredBatch: TriggeredBatchMemory | undefined;
  try {
    const pool = makeOrderPool({ minBytes: plan.minBytes, maxBytes: plan.maxBytes, seed: plan.seed });
    for (const [i, spec] of specs.entries()) {
      const result = await runMode(spec, { url, prefix: `bench.${runId}.m${i}`, workDir, pool, plan, onStep: (l) => progress.step(l) });
      modes.push(result);
      progress.tick(
        result.error !== undefined ? `${spec.name}: did not run (${result.error})` : `${spec.name}: sustained ${Math.round(result.sustainedRate)} ev/s`,
      );
    }
    for (const [i, [a, b, kind]] of pairs.entries()) {
      const specA = specs.find((s) => s.name === a)!;
      const specB = specs.find((s) => s.name === b)!;
      const env = { url, prefix: `bench.${runId}.pair${i}`, workDir, pool, plan, onStep: (l: string) => progress.step(l) };
      try {
        paired.push(await runPaired(specA, specB, kind, plan.referenceRate, env, plan.pairedRounds));
        progress.tick(`paired ${a} vs ${b} (${kind})`);
      } catch (err) {
        progress.tick(`paired ${a} vs ${b} (${kind}) failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    for (const [i, events] of backlogSizes.entries()) {
      const label = `backlog: ${BACKLOG_MODE} drains ${events.toLocaleString('en')} events`;
      progress.step(label);
      const env = { url, prefix: `bench.${runId}.backlog${i}`, workDir, pool, plan, onStep: (l: string) => progress.step(l) };
      try {
        const b = await runBacklogDrain(backlogSpec!, env, events, plan.backlogMaxUnsettled, plan.backlogTimeoutMs);
        backlog.push(b);
        progress.tick(`${label}: ${b.eventsPerSec} ev/s, peak RSS ${b.peakRssMiB} MiB`);
      } catch (err) {
        backlog.push(failedBacklog(BACKLOG_MODE, events, plan.backlogMaxUnsettled, err));
        progress.tick(`${label} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (runExactlyOnce) {
      const label = `exactly-once: engine vs raw consume + publish with ids, ${plan.exactlyOnceRuns} x ${plan.exactlyOnceEvents.toLocaleString('en')} events`;
      progress.step(label);
      try {
        exactlyOnce = await exactlyOnceBaseline(plan.exactlyOnceEvents, plan.exactlyOnceRuns);
        progress.tick(
          exactlyOnce === null
            ? 'exactly-once: bench/exactly-once.bench.ts not here'
            : `exactly-once: ${exactlyOnce.sluiceEventsPerSec} ev/s, ${exactlyOnce.throughputRatio} x raw`,
        );
      } catch (err) {
        exactlyOnce = { error: err instanceof Error ? err.message.split('\n')[0]! : String(err) };
        progress.tick(`exactly-once failed: ${exactlyOnce.error}`);
      }
    }
    if (runBatchMemory) {
      progress.step(`triggered batch of ${plan.triggeredBatchEvents.toLocaleString('en')} events: peak RSS`);
      triggeredBatch = await runTriggeredBatchMemory(plan.triggeredBatchEvents);
      progress.tick(
        `triggered batch of ${plan.triggeredBatchEvents.toLocaleString('en')} events: peak RSS ${triggeredBatch.peakRssMiB ?? `n/a (${triggeredBatch.error})`} MiB`,
      );
    }
    if (runFraudCheck) {
      progress.step('fraud-check: request/reply at 100 in flight');
      fraudCheck = await runFraudCheckLatency(
        { url, workDir, prefix: `bench.${runId}.fraud`, onStep: (l) => progress.step(l) },
        fraudCheckPlan(plan.preset, opts.rounds, plan.seed),
      );
      progress.tick(fraudCheckLine(fraudCheck));
    }
    if (opts.baselines) {
      progress.step('baseline: RxJS batching');
      baselines.push(await rxjsBufferBaseline(plan.baselineEvents));
      progress.tick('baseline: RxJS batching');
      progress.step('baseline: LMDB batched puts');
      baselines.push(await lmdbPutsBaseline(pool, plan.lmdbEvents));
      progress.tick('baseline: LMDB batched puts');
      progress.step('baseline: JetStream consume + ack');
      baselines.push(await jetstreamConsumeBaseline(url, pool, plan.jetstreamEvents, `bench.${runId}.js`));
      progress.tick('baseline: JetStream consume + ack');
    }
    if (exactlyOnce != null && !('error' in exactlyOnce)) baselines.push(exactlyOnce.pair);
  } finally {
    progress.stop();
    await server?.dispose();
    await rm(workDir, { recursive: true, force: true });
  }

  const result: BenchResult = {
    bench: 'sluice',
    schema: 3,
    preset: plan.preset,
    date: new Date().toISOString(),
    commit: gitCommit(),
    command: `npm run bench --${argv.length > 0 ? ` ${argv.join(' ')}` : ''}`,
    durationS: Math.round((performance.now() - started) / 100) / 10,
    machine: machineInfo(machineStart),
    plan,
    modes,
    baselines,
    comparisons: compareModes(modes, plan),
    paired,
    backlog,
    ...(exactlyOnce !== undefined ? { exactlyOnce } : {}),
    ...(triggeredBatch !== undefined ? { triggeredBatch } : {}),
    ...(fraudCheck !== undefined ? { fraudCheck } : {}),
    targets: checkTargets({ modes, plan, paired, backlog, exactlyOnce, triggeredBatch }),
  };
  const outDir = resolve(opts.out ?? (plan.preset === 'full' ? join(BENCH_DIR, 'results') : await mkdtemp(join(tmpdir(), 'sluice-bench-out-'))));
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, JSON_FILE), `${JSON.stringify(result, null, 2)}\n`);
  await writeFile(join(outDir, CHART), await renderLatencyChart(modes, `Sluice ${plan.preset} bench, ${result.date.slice(0, 10)}`));
  await writeFile(join(outDir, REPORT), markdownReport(result, CHART));
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    const where = relative(process.cwd(), outDir) || '.';
    process.stdout.write(`report: ${join(where, REPORT)}\nchart:  ${join(where, CHART)}\njson:   ${join(where, JSON_FILE)}\n`);
    for (const t of result.targets) process.stdout.write(`${t.met === null ? 'n/a ' : t.met ? 'MET ' : 'MISS'} ${t.goal}: ${t.value ?? 'n/a'} (${t.detail})\n`);
    for (const line of streamRatioLines(result)) process.stdout.write(`${line}\n`);
    if (result.fraudCheck !== undefined) process.stdout.write(`${fraudCheckLine(result.fraudCheck)}\n`);
  }
  return result;
}

/** The Sluice stream pipeline whose backlog drain is measured. */
const BACKLOG_MODE = 'stream-route-sink';

/** Sluice ÷ baseline for each mode reading a stream, paired when the run has paired rounds. */
function streamRatioLines(r: BenchResult): string[] {
  const lines: string[] = [];
  for (const c of r.comparisons) {
    const mode = r.modes.find((m) => m.name === c.mode);
    if (mode?.input !== 'stream') continue;
    const p = r.paired.find((x) => x.a === c.mode && x.b === c.baseline && x.kind === 'capacity');
    const throughput = p?.throughputRatio ?? c.throughputRatio;
    const efficiency = p?.efficiencyRatio ?? c.efficiencyRatio;
    lines.push(
      `${c.mode} ÷ ${c.baseline}: throughput ${throughput ?? 'n/a'}, events per CPU-s ${efficiency ?? 'n/a'} (${p !== undefined ? `paired, ${p.rounds} rounds, median` : 'sweep'})`,
    );
  }
  for (const b of r.backlog) {
    const how =
      b.error !== undefined
        ? `did not run (${b.error})`
        : b.drained
          ? `drained in ${(b.drainMs / 1000).toFixed(1)} s, ${b.eventsPerSec} ev/s`
          : 'NOT drained before the timeout';
    lines.push(`backlog ${b.events.toLocaleString('en')} events: ${how}, peak RSS ${b.peakRssMiB} MiB (maxUnsettled ${b.maxUnsettled})`);
  }
  return lines;
}

function parseArgs(argv: string[]): BenchOptions {
  const list = (v: string) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const int = (name: string) => (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive integer, got '${v}'`);
    return n;
  };
  const nonNegative = (name: string) => (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be an integer >= 0, got '${v}'`);
    return n;
  };
  const rates = (v: string) => list(v).map(int('--rates'));
  const backlogEvents = (v: string) =>
    list(v).map((x) => {
      const n = Number(x);
      if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`--backlog-events must be integers >= 0, got '${x}'`);
      return n;
    });
  const program = new Command('npm run bench --')
    .description('Freshness, throughput and cost of Sluice modes against hand-written baselines on a private nats-server.')
    .option('--quick', 'CI smoke preset: two rates, short steps, about a minute', false)
    .option('--json', 'print one JSON document on stdout (no progress bar)', false)
    .option('--no-progress', 'no progress output on stderr')
    .option('--out <dir>', 'where report.md, the SVG and result.json go (default: bench/results for a full run, a temp dir for --quick)')
    .option('--nats-url <url>', 'use this nats-server (JetStream enabled) instead of starting a private one')
    .option(
      '--modes <list>',
      `comma-separated modes and sections (default all: ${modeSpecs({ triggerPeriodMs: FULL_PLAN.triggerPeriodMs })
        .map((s) => s.name)
        .join(', ')}, ${FRAUD_CHECK_MODE}, ${EXACTLY_ONCE_SECTION}, ${BATCH_MEMORY_SECTION})`,
      list,
    )
    .option('--rates <list>', 'offered rates of the sweep, events/s, comma-separated', rates)
    .option('--count <n>', 'events per measured step (instead of a fixed step length)', int('--count'))
    .option('--step-ms <ms>', 'length of a measured step, ms', int('--step-ms'))
    .option('--min-bytes <n>', 'smallest event, bytes (>= 100)', int('--min-bytes'))
    .option('--max-bytes <n>', 'largest event, bytes', int('--max-bytes'))
    .option('--trigger-period-ms <ms>', 'flush period of the triggered batch, ms', int('--trigger-period-ms'))
    .option('--seed <n>', 'workload seed', int('--seed'))
    .option('--rounds <n>', 'rounds of each paired comparison (default: 3 for the full run, none for --quick)', int('--rounds'))
    .option('--backlog-events <list>', 'backlogs drained by the at-least-once pipeline, events, comma-separated (0: none)', backlogEvents)
    .option('--batch-events <n>', 'events of the triggered batch whose peak RSS is measured (0: none)', nonNegative('--batch-events'))
    .option('--no-baselines', 'skip the in-process and JetStream baselines')
    .exitOverride()
    .configureOutput({ writeOut: (s) => process.stderr.write(s) });
  program.parse(argv, { from: 'user' });
  return program.opts<BenchOptions>();
}

function buildPlan(o: BenchOptions): BenchPlan {
  const base = o.quick ? QUICK_PLAN : FULL_PLAN;
  const custom = [o.rates, o.count, o.stepMs, o.minBytes, o.maxBytes, o.triggerPeriodMs, o.seed, o.rounds, o.backlogEvents, o.batchEvents].some(
    (v) => v !== undefined,
  );
  return {
    ...base,
    preset: custom ? 'custom' : base.preset,
    rates: o.rates ?? base.rates,
    streamModeRates: o.rates ?? base.streamModeRates,
    pairedRounds: o.rounds ?? base.pairedRounds,
    backlogEvents: o.backlogEvents?.filter((n) => n > 0) ?? base.backlogEvents,
    exactlyOnceRuns: o.rounds ?? base.exactlyOnceRuns,
    triggeredBatchEvents: o.batchEvents ?? base.triggeredBatchEvents,
    countPerStep: o.count,
    measureMs: o.stepMs ?? base.measureMs,
    minBytes: o.minBytes ?? base.minBytes,
    maxBytes: o.maxBytes ?? base.maxBytes,
    triggerPeriodMs: o.triggerPeriodMs ?? base.triggerPeriodMs,
    seed: o.seed ?? base.seed,
  };
}

function machineInfo(loadAvgStart: number): MachineInfo {
  const cpu = cpus();
  return {
    cores: cpu.length,
    cpuModel: cpu[0]?.model.trim() ?? 'unknown',
    memGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${platform()} ${release()}`,
    node: process.versions.node,
    natsServer: tryRun('nats-server', ['--version']).replace(/^nats-server:\s*/, '') || 'unknown',
    loadAvgStart: Math.round(loadAvgStart * 100) / 100,
    loadAvgEnd: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}

function gitCommit(): string {
  const sha = tryRun('git', ['rev-parse', '--short', 'HEAD']);
  if (sha === '') return 'unknown';
  return tryRun('git', ['status', '--porcelain', '--', 'src', 'operators', 'bench']) === '' ? sha : `${sha}+dirty`;
}

function tryRun(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { cwd: join(BENCH_DIR, '..'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
