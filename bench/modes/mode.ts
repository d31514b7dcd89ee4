import type { OrderTarget } from '../workload.js';

/** What a processor mode gets from the harness. */
export interface ModeContext {
  /** NATS server URL (the bench's private server). */
  readonly url: string;
  /** Subject the driver publishes order events on. */
  readonly inSubject: string;
  /** Output subject of a routing target; the driver listens on all of them. */
  outSubject(target: OrderTarget): string;
  /** Where events that cannot be decoded go, with their original bytes. */
  readonly deadLetterSubject: string;
  /** A private, empty directory for LMDB files. */
  readonly workDir: string;
  /** The mode's own parameters from its spec (maxWaitMs, maxCount, periodMs...). */
  readonly params: Readonly<Record<string, number>>;
}

/** Cumulative counters a mode reports; the harness takes differences between two marks. */
export interface ModeCounters {
  /** NATS messages in + out on the mode's connections (includes JetStream acks). */
  natsMsgs: number;
  /** LMDB write transactions committed. */
  lmdbCommits: number;
}

/** A started mode inside the processor child process. */
export interface RunningMode {
  counters(): ModeCounters;
  /** Flushes what it holds, closes its connections; the child exits afterwards. */
  stop(): Promise<void>;
}

/** Every module in bench/modes/ exports `start` of this type. */
export type ModeFactory = (ctx: ModeContext) => Promise<RunningMode>;

/**
 * The `counters` of a mode on NATS connection `nc`: its messages in + out, and `lmdbCommits`
 * (none unless given).
 */
export function natsCounters(nc: { stats(): { inMsgs: number; outMsgs: number } }, lmdbCommits: () => number = () => 0): () => ModeCounters {
  return () => {
    const s = nc.stats();
    return { natsMsgs: s.inMsgs + s.outMsgs, lmdbCommits: lmdbCommits() };
  };
}
