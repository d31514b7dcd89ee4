import { setTimeout as sleep } from 'node:timers/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { ModeSpec } from './mode-registry.js';
import { benchStreamNames, createBenchStreams } from './modes/bench-streams.js';
import type { ProcessorMark } from './processor-client.js';
import { startModeProcessor, type ModeRunEnv } from './run-mode.js';
import type { OrderTarget } from './workload.js';

/** One backlog drained by one mode. */
export interface BacklogResult {
  mode: string;
  /** Events waiting in the input stream when the processor started. */
  events: number;
  /** Bytes of those events in the stream. */
  backlogMiB: number;
  /** The stream source's bound on delivered-but-unsettled messages. */
  maxUnsettled: number;
  /** From the processor's start request to the last output, ms (includes process start-up). */
  totalMs: number;
  /** From the first output to the last, ms. */
  drainMs: number;
  /** Events per second over `drainMs`. */
  eventsPerSec: number;
  /** Processor CPU per event over the drain, µs (= s per million events). */
  cpuSecPerMillion: number;
  /** Peak RSS of the processor process over its whole life, MiB. */
  peakRssMiB: number;
  /** RSS sampled every ~250 ms during the drain, MiB. */
  rssSamplesMiB: number[];
  /** Whether every event came out before the timeout. */
  drained: boolean;
  /** Set when the drain could not run (the figures are then 0). */
  error?: string | undefined;
}

/** The record of a drain that could not run. */
export function failedBacklog(mode: string, events: number, maxUnsettled: number, error: unknown): BacklogResult {
  return {
    mode,
    events,
    backlogMiB: 0,
    maxUnsettled,
    totalMs: 0,
    drainMs: 0,
    eventsPerSec: 0,
    cpuSecPerMillion: 0,
    peakRssMiB: 0,
    rssSamplesMiB: [],
    drained: false,
    error: error instanceof Error ? error.message : String(error),
  };
}

/**
 * Fills the mode's input stream with `events` order events, then starts the mode's processor on
 * it and times the drain: from the first output to the last, with the processor's CPU and peak
 * RSS. With `maxUnsettled` bounding what the broker delivers ahead of settlement, peak RSS must
 * not grow with the backlog: run it at two sizes to see that.
 */
export async function runBacklogDrain(spec: ModeSpec, env: ModeRunEnv, events: number, maxUnsettled: number, timeoutMs: number): Promise<BacklogResult> {
  const inSubject = `${env.prefix}.in.orders`;
  const outSubject = (t: OrderTarget) => `${env.prefix}.out.${t}`;
  const nc = await connect({ servers: env.url, noAsyncTraces: true, name: 'bench-backlog' });
  try {
    await createBenchStreams({ url: env.url, inSubject, outSubject }, { output: false, inputMaxBytes: -1 });
    const backlogBytes = await fill(nc, benchStreamNames({ inSubject }).input, inSubject, env.pool, events);

    let delivered = 0;
    let first = 0;
    let last = 0;
    let wake: (() => void) | undefined;
    const sub = nc.subscribe(`${env.prefix}.out.>`, {
      callback: () => {
        last = performance.now();
        if (delivered++ === 0) first = last;
        if (delivered >= events) wake?.();
      },
    });
    await nc.flush();

    const started = performance.now();
    const processor = await startModeProcessor({ ...spec, params: { ...spec.params, maxUnsettled } }, env);
    let peakRssBytes = 0;
    let before: ProcessorMark | undefined;
    let after: ProcessorMark | undefined;
    let deliveredBefore = 0;
    let deliveredAfter = 0;
    const samples: number[] = [];
    try {
      before = await processor.mark();
      deliveredBefore = delivered;
      const done = new Promise<void>((resolve) => {
        wake = resolve;
        if (delivered >= events) resolve();
      });
      const deadline = started + timeoutMs;
      while (delivered < events && performance.now() < deadline) {
        await Promise.race([done, sleep(250)]);
        after = await processor.mark();
        deliveredAfter = delivered;
        samples.push(mib(after.rssBytes));
      }
    } finally {
      const final = await processor.stop().catch(() => processor.kill());
      peakRssBytes = final?.maxRssBytes ?? 0;
      sub.unsubscribe();
    }
    return {
      mode: spec.name,
      events,
      backlogMiB: mib(backlogBytes),
      maxUnsettled,
      totalMs: Math.round(last - started),
      drainMs: Math.round(last - first),
      eventsPerSec: last > first ? Math.round(((delivered - 1) * 1000) / (last - first)) : 0,
      cpuSecPerMillion:
        before !== undefined && after !== undefined ? round((after.cpuUs - before.cpuUs) / Math.max(1, deliveredAfter - deliveredBefore), 2) : 0,
      peakRssMiB: mib(peakRssBytes),
      rssSamplesMiB: samples,
      drained: delivered >= events,
    };
  } finally {
    await nc.drain();
  }
}

/** Core-publishes the events into the stream's subject (the fastest fill; not measured). */
async function fill(nc: Awaited<ReturnType<typeof connect>>, stream: string, subject: string, pool: readonly Uint8Array[], events: number): Promise<number> {
  const jsm = await jetstreamManager(nc);
  for (let i = 0; i < events; i++) {
    nc.publish(subject, pool[i % pool.length]);
    if (i % 5000 === 4999) await nc.flush();
  }
  await nc.flush();
  for (;;) {
    const { state } = await jsm.streams.info(stream);
    if (state.messages >= events) return state.bytes;
    await sleep(50);
  }
}

function mib(bytes: number): number {
  return round(bytes / 1048576, 1);
}

function round(v: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
