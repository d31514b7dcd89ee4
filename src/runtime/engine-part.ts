import { NEVER, Observable, interval } from 'rxjs';
import { ensureError } from '../errors.js';
import type { PartKind, PartReading, PartState } from '../observe/part-stats.js';
import type { TopologyContext } from './types.js';
import type { StateStore } from '../state/types.js';
import { openTopologyStore, type TopologyStore } from './open-topology-store.js';

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

const IDLE: Omit<PartReading, 'state'> = {
  in: 0,
  out: 0,
  deadLetters: 0,
  unsettled: null,
  batches: null,
  lastBatchSize: null,
  maxBatchSize: null,
  actors: null,
  outbox: null,
};

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

/** What {@link runEnginePart} needs to know of one actor or durable batch. */
export interface EnginePartSpec<H extends { stop(): Promise<void>; readonly done: Promise<unknown> }> {
  readonly kind: PartKind;
  /** Stats name, e.g. `actor stock`. */
  readonly name: string;
  /** The engine's input stream (for the lag). */
  readonly stream: string;
  /** A store the caller opened; otherwise one is opened at `stateDir` (default the run's) and closed on drain. */
  readonly store?: StateStore | undefined;
  readonly stateDir?: string | undefined;
  /** Starts the engine on the store (after creating its streams). */
  start(store: StateStore): Promise<H>;
  /** The engine's counters, for the topology's stats. */
  read(running: H): EngineReading;
  /** One status line every `reportEveryMs` (default 5000; 0 = none). */
  statusLine(running: H): string;
  readonly reportEveryMs?: number | undefined;
  /** Told once the engine runs, or that it could not start. */
  readonly started?: ((running: H) => void) | undefined;
  readonly startFailed?: ((error: Error) => void) | undefined;
}

/**
 * The body every engine-backed part shares: a pipeline that opens the store, starts the engine
 * when the run starts, registers its stats, reports a status line, errors the run when the engine
 * fails (or cannot start), and completes when the run drains, whose stop hook then stops the
 * engine (finishing the batch in progress) and closes the store.
 */
export function runEnginePart<H extends { stop(): Promise<void>; readonly done: Promise<unknown> }>(
  t: TopologyContext,
  spec: EnginePartSpec<H>,
): Observable<never> {
  const part = registerEnginePart(t, spec.kind, spec.name, spec.stream);
  return new Observable<never>((subscriber) => {
    let opened: TopologyStore | undefined;
    let running: H | undefined;
    t.onStop(async () => {
      await running?.stop();
      await opened?.close();
    });
    const fail = (err: unknown): void => {
      part.failed();
      subscriber.error(ensureError(err));
    };
    const start = async (): Promise<void> => {
      const store = spec.store ?? (opened = openTopologyStore(t, spec.stateDir ?? t.stateDir)).store;
      const engine = (running = await spec.start(store));
      part.running(() => spec.read(engine));
      spec.started?.(engine);
      engine.done.catch(fail);
      const every = spec.reportEveryMs ?? 5_000;
      if (every > 0) subscriber.add(interval(every, t.scheduler).subscribe(() => t.report(spec.statusLine(engine))));
    };
    const starting = start();
    t.stats.starting(starting);
    starting.catch((err: unknown) => {
      spec.startFailed?.(ensureError(err));
      fail(err);
    });
    // Completes when the run drains; the onStop hook then stops the engine.
    subscriber.add(NEVER.pipe(t.untilStopped()).subscribe({ complete: () => subscriber.complete() }));
  });
}
