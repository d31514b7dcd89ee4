import { DiscardPolicy, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { ORDER_TARGETS } from '../workload.js';
import type { ModeContext } from './mode.js';

/** The JetStream streams of a stream mode. */
export interface BenchStreams {
  /** Captures the driver's input subject: what the mode consumes. */
  readonly input: string;
  /** Captures the four output subjects (durable-sink modes only). */
  readonly output?: string | undefined;
}

/** Options for {@link createBenchStreams}. */
export interface BenchStreamOptions {
  /** Also create the output stream (the mode publishes with JetStream acks). */
  readonly output: boolean;
  /** Input stream size limit, bytes (oldest dropped). Default 1 GiB: a full sweep must not fill the disk. */
  readonly inputMaxBytes?: number | undefined;
}

// Outputs are only there to be acknowledged; the driver reads them as core messages. A short
// duplicate window keeps nats-server's memory for message ids (~185 B each) small on long runs,
// and is the same for the raw loop and Sluice.
const OUTPUT_LIMITS = { maxBytes: 512 * 1024 * 1024, duplicateWindowMs: 30_000 } as const;

/** Stream names derived from the mode's subject prefix, so modes and pairs never share one. */
export function benchStreamNames(ctx: Pick<ModeContext, 'inSubject'>): { input: string; output: string } {
  const base = ctx.inSubject
    .replace(/\.in\.orders$/, '')
    .replace(/\W/g, '_')
    .toUpperCase();
  return { input: `${base}_IN`, output: `${base}_OUT` };
}

/**
 * Creates the mode's file streams with explicit limits before the mode starts, so the Sluice
 * side's `t.stream` (which only creates a missing stream) and the raw side read identical ones.
 * A stream that already exists is kept as it is (the backlog bench fills the input beforehand).
 */
export async function createBenchStreams(ctx: Pick<ModeContext, 'url' | 'inSubject' | 'outSubject'>, options: BenchStreamOptions): Promise<BenchStreams> {
  const names = benchStreamNames(ctx);
  const nc = await connect({ servers: ctx.url, noAsyncTraces: true, name: 'bench-streams' });
  try {
    const jsm = await jetstreamManager(nc);
    const exists = (name: string) =>
      jsm.streams.info(name).then(
        () => true,
        () => false,
      );
    if (!(await exists(names.input))) {
      await jsm.streams.add({
        name: names.input,
        subjects: [ctx.inSubject],
        storage: StorageType.File,
        discard: DiscardPolicy.Old,
        max_bytes: options.inputMaxBytes ?? 1024 * 1024 * 1024,
      });
    }
    if (!options.output) return { input: names.input };
    if (await exists(names.output)) return names;
    await jsm.streams.add({
      name: names.output,
      subjects: ORDER_TARGETS.map((t) => ctx.outSubject(t)),
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_bytes: OUTPUT_LIMITS.maxBytes,
      duplicate_window: nanos(OUTPUT_LIMITS.duplicateWindowMs),
    });
    return names;
  } finally {
    await nc.drain();
  }
}

/** Deletes the mode's streams (after it stopped consuming), freeing the server's disk. */
export async function deleteBenchStreams(url: string, streams: BenchStreams): Promise<void> {
  const nc = await connect({ servers: url, noAsyncTraces: true, name: 'bench-streams' });
  try {
    const jsm = await jetstreamManager(nc);
    for (const name of [streams.input, streams.output]) if (name !== undefined) await jsm.streams.delete(name).catch(() => false);
  } finally {
    await nc.drain();
  }
}
