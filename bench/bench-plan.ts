/**
 * How long and how hard a run pushes. Two presets: `full` (the committed report; ~26 min on 2
 * cores, see docs/bench.md) and `quick` (CI smoke: about a minute, 4 on a busy machine). Changing
 * a preset changes the numbers: do it on purpose and say why in bench/results/README.md, so runs
 * stay comparable.
 */
export interface BenchPlan {
  readonly preset: 'quick' | 'full' | 'custom';
  /** Offered rates of the latency-vs-throughput sweep, events/s, ascending. */
  readonly rates: readonly number[];
  /**
   * The sweep of the modes that read a JetStream stream (the at-least-once modes), events/s. The
   * quick preset keeps only the reference rate for them, to stay within its time budget.
   */
  readonly streamModeRates: readonly number[];
  /** Add sweep steps at these fractions of the measured capacity (modes with a capacity run). */
  readonly capacityFractions: readonly number[];
  /** Events/s every mode is compared at (freshness and CPU targets are stated at this rate). */
  readonly referenceRate: number;
  /** Unmeasured warm-up before each step, ms. */
  readonly warmupMs: number;
  /** Measured window of each sweep step, ms. */
  readonly measureMs: number;
  /** Timer-driven modes: a step lasts at least this many flush periods. */
  readonly minFlushPeriodsPerStep: number;
  /** Fixed number of events per measured step instead of `measureMs` (`--count`). */
  readonly countPerStep?: number | undefined;
  /** How long to wait for the last outputs beyond the mode's own hold time, ms. */
  readonly drainTimeoutMs: number;
  /** Closed-loop capacity run: length, ms, and events in flight at most. */
  readonly capacityMs: number;
  readonly capacityWindow: number;
  /**
   * Events in flight at most in the closed loop of the modes that read a stream. Their consumer
   * holds at most `maxUnsettled` (1000) anyway: the rest only waits in the stream, and a bigger
   * window would only make each step's drain longer.
   */
  readonly streamCapacityWindow: number;
  /**
   * The modes that read a stream lose nothing when they fall behind: what is left after the
   * drain timeout is still processed later, and would run into the next step (or into the other
   * side of a paired round). Their drain waits while outputs keep coming, up to this long, ms.
   */
  readonly streamDrainMaxMs: number;
  /** Flush period of the triggered-batch mode, ms. */
  readonly triggerPeriodMs: number;
  /**
   * Rounds of the paired comparisons behind the targets (route vs forwarder at capacity and at the
   * reference rate, micro-batch 100 ms and the triggered batch vs route at the reference rate, each
   * at-least-once mode vs its hand-written pull consume + ack loop at capacity), measured
   * alternately. 0 = none: the targets then show the sweeps' figures, not judged.
   */
  readonly pairedRounds: number;
  /** Events per round of the in-process RxJS baseline, the LMDB baseline and the JetStream baseline. */
  readonly baselineEvents: number;
  readonly lmdbEvents: number;
  readonly jetstreamEvents: number;
  /**
   * Backlogs drained by the at-least-once pipeline (bench/backlog-drain.ts), events each, run in
   * this order; two sizes show whether peak RSS follows the backlog or the `maxUnsettled` bound.
   * Empty: no backlog figure.
   */
  readonly backlogEvents: readonly number[];
  /** The stream source's `maxUnsettled` for the backlog drains (the default of `t.stream`). */
  readonly backlogMaxUnsettled: number;
  /** Give up on a backlog drain after this long, ms (it is then reported as not drained). */
  readonly backlogTimeoutMs: number;
  /**
   * Inputs and runs of the exactly-once engine bench (bench/exactly-once.bench.ts, a child
   * process): each run measures the raw loop, then the engine, so its runs are paired rounds.
   * `--rounds` sets the runs too.
   */
  readonly exactlyOnceEvents: number;
  readonly exactlyOnceRuns: number;
  /**
   * Events of the triggered batch whose peak RSS is measured (bench/triggered-batch-memory.ts, a
   * child process); 0 = not measured. The target is stated for 1,000,000.
   */
  readonly triggeredBatchEvents: number;
  /** Payload size range, bytes. */
  readonly minBytes: number;
  readonly maxBytes: number;
  readonly seed: number;
  /**
   * End a mode's sweep at its first saturated step (confirmed by a second attempt). Off for the
   * quick preset, which always runs its two rates so every figure exists.
   */
  readonly stopAtSaturation: boolean;
  /** A step is saturated when it delivers less than this share of the offered rate. */
  readonly saturationDeliveredShare: number;
  /** ... or when its p99 exceeds `p99Factor` × the best p99 of the mode + `p99SlackMs`. */
  readonly p99Factor: number;
  readonly p99SlackMs: number;
}

const common = {
  referenceRate: 10_000,
  minBytes: 100,
  maxBytes: 1024,
  seed: 1,
  saturationDeliveredShare: 0.9,
  p99Factor: 3,
  p99SlackMs: 25,
} as const;

export const FULL_PLAN: BenchPlan = {
  ...common,
  preset: 'full',
  stopAtSaturation: true,
  pairedRounds: 3,
  rates: [1_000, 2_000, 5_000, 10_000, 20_000, 30_000, 40_000, 60_000, 80_000, 100_000, 130_000, 160_000, 200_000, 250_000, 300_000, 400_000],
  // Coarser than the core modes' ladder (schema 3 dropped 2,000 and 30,000): the steps around the
  // capacity fill that range anyway, and the full run must stay within ~25 minutes on 2 cores.
  streamModeRates: [1_000, 5_000, 10_000, 20_000, 40_000, 60_000, 80_000, 100_000],
  capacityFractions: [0.5, 0.7, 0.85, 1.0, 1.15, 1.3],
  warmupMs: 1_000,
  measureMs: 5_000,
  minFlushPeriodsPerStep: 3,
  drainTimeoutMs: 3_000,
  capacityMs: 5_000,
  capacityWindow: 20_000,
  streamCapacityWindow: 5_000,
  streamDrainMaxMs: 60_000,
  triggerPeriodMs: 2_000,
  baselineEvents: 1_000_000,
  lmdbEvents: 200_000,
  jetstreamEvents: 100_000,
  exactlyOnceEvents: 200_000,
  exactlyOnceRuns: 3,
  triggeredBatchEvents: 1_000_000,
  backlogEvents: [100_000, 1_000_000],
  backlogMaxUnsettled: 1_000,
  backlogTimeoutMs: 600_000,
};

export const QUICK_PLAN: BenchPlan = {
  ...common,
  preset: 'quick',
  stopAtSaturation: false,
  pairedRounds: 0,
  rates: [2_000, 10_000],
  streamModeRates: [10_000],
  capacityFractions: [],
  warmupMs: 200,
  measureMs: 600,
  minFlushPeriodsPerStep: 1,
  drainTimeoutMs: 1_500,
  capacityMs: 600,
  capacityWindow: 10_000,
  streamCapacityWindow: 2_000,
  streamDrainMaxMs: 15_000,
  triggerPeriodMs: 500,
  baselineEvents: 100_000,
  lmdbEvents: 20_000,
  jetstreamEvents: 10_000,
  exactlyOnceEvents: 5_000,
  exactlyOnceRuns: 1,
  triggeredBatchEvents: 0,
  backlogEvents: [5_000],
  backlogMaxUnsettled: 1_000,
  backlogTimeoutMs: 30_000,
};
