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
  /**
   * Where the processor reads the driver's events: the core subject (default), or a JetStream
   * stream capturing it (the at-least-once modes; their sweep uses the plan's `streamModeRates`).
   */
  readonly input?: 'core' | 'stream' | undefined;
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
    // The at-least-once path (issue 9): JetStream in, one output per event. Each Sluice variant
    // is divided by the hand-written pull consume + ack loop doing the same work.
    {
      name: 'raw-pull-ack',
      label: 'hand-written at-least-once: pull consume (raw client), route, core publish, ack',
      style: 'real-time',
      implementation: 'raw',
      params: { durable: 0 },
      holdMs: 0,
      capacityRun: true,
      module: 'raw-pull-ack',
      input: 'stream',
    },
    {
      name: 'stream-route-sink',
      label: 'at-least-once: t.stream (durable consumer, ack after the publish) + route + sink()',
      style: 'real-time',
      implementation: 'sluice',
      baseline: 'raw-pull-ack',
      params: { durable: 0, ordered: 0 },
      holdMs: 0,
      capacityRun: true,
      module: 'sluice-stream-route-sink',
      input: 'stream',
    },
    {
      name: 'stream-ordered-route-sink',
      label: 'before settlements: t.stream({ ordered: true }) (nothing acked) + route + sink()',
      style: 'real-time',
      implementation: 'sluice',
      baseline: 'raw-pull-ack',
      params: { durable: 0, ordered: 1 },
      holdMs: 0,
      capacityRun: true,
      module: 'sluice-stream-route-sink',
      input: 'stream',
    },
    {
      name: 'raw-pull-publish-ack',
      label: 'hand-written: pull consume (raw client), route, JetStream publish with id (256 in flight), ack after the publish ack',
      style: 'real-time',
      implementation: 'raw',
      params: { durable: 1 },
      holdMs: 0,
      capacityRun: true,
      module: 'raw-pull-ack',
      input: 'stream',
    },
    {
      name: 'stream-route-durable-sink',
      label: 'at-least-once, exactly-once ids: t.stream + route + sink({ durable: true }) (ack after the publish ack)',
      style: 'real-time',
      implementation: 'sluice',
      baseline: 'raw-pull-publish-ack',
      params: { durable: 1, ordered: 0 },
      holdMs: 0,
      capacityRun: true,
      module: 'sluice-stream-route-sink',
      input: 'stream',
    },
    ...MICRO_BATCH_SETTINGS.map((s): ModeSpec => ({
      name: `micro-batch-${s.maxWaitMs}ms`,
      label: `micro-batch: maxWaitMs ${s.maxWaitMs}, maxCount ${s.maxCount}`,
      style: 'micro-batch',
      implementation: 'sluice',
      baseline: 'raw-forwarder',
      params: { ...s },
      holdMs: s.maxWaitMs,
      capacityRun: true,
      module: 'sluice-micro-batch',
    })),
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

/**
 * Hand-written baselines of the batch modes, run only by bench/batch-cost.bench.ts (paired against
 * `route`), not by the main sweep: they answer how low a batch style's CPU per event can go on this
 * design (one NATS core message per event in), which issue 15's 0.5 × route target is judged by.
 * `raw-receive-only` publishes nothing, so the main sweep's latency and saturation figures would
 * mean nothing for it.
 */
export function batchBaselineSpecs(options: { triggerPeriodMs: number }): ModeSpec[] {
  const microBatch = MICRO_BATCH_SETTINGS[1];
  return [
    {
      name: `raw-micro-batch-${microBatch.maxWaitMs}ms`,
      label: `hand-written micro-batch (raw NATS client, one msgpackr unpack per batch): maxWaitMs ${microBatch.maxWaitMs}, maxCount ${microBatch.maxCount}`,
      style: 'micro-batch',
      implementation: 'raw',
      params: { ...microBatch },
      holdMs: microBatch.maxWaitMs,
      capacityRun: true,
      module: 'raw-micro-batch',
    },
    {
      name: `raw-triggered-${options.triggerPeriodMs / 1000}s`,
      label: `hand-written triggered batch (raw NATS client): flush every ${options.triggerPeriodMs / 1000} s in chunks of 1000`,
      style: 'triggered',
      implementation: 'raw',
      params: { periodMs: options.triggerPeriodMs, chunk: 1000 },
      holdMs: options.triggerPeriodMs,
      capacityRun: false,
      module: 'raw-micro-batch',
    },
    {
      name: 'raw-receive-only',
      label: 'floor: raw NATS client subscription that only receives and counts (no decode, no publish)',
      style: 'real-time',
      implementation: 'raw',
      params: {},
      holdMs: 0,
      capacityRun: false,
      module: 'raw-receive-only',
    },
  ];
}
