import type { PartKind, PartReading, PartState } from '../observe/part-stats.js';
import type { TopologyContext } from './types.js';

/** What an engine-backed part (an actor, a durable batch) reports once it runs. */
export interface EngineReading extends Omit<PartReading, 'state'> {
  /** Last input sequence committed: the lag is the stream's last sequence minus this. */
  readonly position: number;
}

/** The handle {@link registerEnginePart} returns: the part tells it when it runs and when it failed. */
export interface EnginePart {
  running(read: () => EngineReading): void;
  failed(): void;
}

const IDLE: Omit<PartReading, 'state'> = { in: 0, out: 0, deadLetters: 0, unsettled: null, batches: null, lastBatchSize: null, maxBatchSize: null, actors: null, outbox: null };

/**
 * Registers an actor or a durable batch with the topology's stats: `starting` until its store and
 * engine are open, then its engine's counters, and its lag behind its own input stream (stream last
 * sequence − committed position: the engine reads every subject of that stream).
 */
export function registerEnginePart(t: Pick<TopologyContext, 'stats' | 'transport'>, kind: PartKind, name: string, stream: string): EnginePart {
  let read: (() => EngineReading) | undefined;
  let state: PartState = 'starting';
  t.stats.registerPart({
    kind,
    name,
    read() {
      if (read === undefined) return { ...IDLE, state };
      const { position: _p, ...reading } = read();
      return { ...reading, state };
    },
    async lag() {
      if (read === undefined) return null;
      const position = read().position;
      const { lastSeq } = await t.transport.streamState(stream);
      return Math.max(0, lastSeq - position);
    },
  });
  return {
    running(r) {
      read = r;
      if (state === 'starting') state = 'running';
    },
    failed() {
      state = 'failed';
    },
  };
}
