/** How a mode delivers: the article's three styles, plus the exactly-once engine. */
export type ModeStyle = 'real-time' | 'micro-batch' | 'triggered' | 'exactly-once';

/**
 * One way of pushing the order workload through the routing rule. The harness runs each mode in
 * its own child process (bench/processor.ts), which imports `bench/modes/<module>.ts` and calls
 * its `start`. Adding a mode is one entry here plus that module.
 */
export interface ModeSpec {
  /** Stable id used in JSON, CLI `--modes` and the chart. Changing it breaks comparisons. */
  readonly name: string;
  /** Human label for the report. */
  readonly label: string;
  readonly style: ModeStyle;
  /** 'raw' for hand-written baselines, 'sluice' for Sluice's operators and runtime. */
  readonly implementation: 'raw' | 'sluice';
  /** The mode its figures are divided by in the report. */
  readonly baseline?: string | undefined;
  /** Passed to the mode as `ctx.params`. */
  readonly params: Readonly<Record<string, number>>;
  /** Longest an event waits inside the mode by design (batch wait, trigger period), ms. */
  readonly holdMs: number;
  /** Whether a closed-loop capacity run applies (not to modes that flush only on a timer). */
  readonly capacityRun: boolean;
  /** Module under bench/modes/ (without extension) exporting `start: ModeFactory`. */
  readonly module: string;
}

/** Micro-batch settings: the maxWaitMs steps asked for, each with a count limit 10x its wait. */
const MICRO_BATCH_SETTINGS = [
  { maxWaitMs: 10, maxCount: 100 },
  { maxWaitMs: 100, maxCount: 1000 },
  { maxWaitMs: 1000, maxCount: 10_000 },
] as const;

/** The modes of a run; `triggerPeriodMs` is the flush period of the triggered batch. */
export function modeSpecs(options: { triggerPeriodMs: number }): ModeSpec[] {
  return [
    {
      name: 'raw-forwarder',
      label: 'hand-written forwarder (raw NATS client)',
      style: 'real-time',
      implementation: 'raw',
      params: {},
      holdMs: 0,
      capacityRun: true,
      module: 'raw-forwarder',
    },
    {
      name: 'route',
      label: 'real-time: route operator',
      style: 'real-time',
      implementation: 'sluice',
      baseline: 'raw-forwarder',
      params: {},
      holdMs: 0,
      capacityRun: true,
      module: 'sluice-route',
    },
    {
      name: 'route-sink',
      label: 'real-time: route operator + runtime sink (forwards bytes and headers)',
      style: 'real-time',
      implementation: 'sluice',
      baseline: 'raw-forwarder',
      params: {},
      holdMs: 0,
      capacityRun: true,
      module: 'sluice-route-sink',
    },
    ...MICRO_BATCH_SETTINGS.map(
      (s): ModeSpec => ({
        name: `micro-batch-${s.maxWaitMs}ms`,
        label: `micro-batch: maxWaitMs ${s.maxWaitMs}, maxCount ${s.maxCount}`,
        style: 'micro-batch',
        implementation: 'sluice',
        baseline: 'raw-forwarder',
        params: { ...s },
        holdMs: s.maxWaitMs,
        capacityRun: true,
        module: 'sluice-micro-batch',
      }),
    ),
    {
      name: `triggered-${options.triggerPeriodMs / 1000}s`,
      label: `triggered batch: batchUntil, flush every ${options.triggerPeriodMs / 1000} s (in-memory buffer)`,
      style: 'triggered',
      implementation: 'sluice',
      baseline: 'raw-forwarder',
      params: { periodMs: options.triggerPeriodMs },
      holdMs: options.triggerPeriodMs,
      capacityRun: false,
      module: 'sluice-triggered-batch',
    },
  ];
}
