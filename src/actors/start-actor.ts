import { asyncScheduler, interval, type SchedulerLike, type Subscription } from 'rxjs';
import { deadLetterStreamConfig } from '../dead-letter/dead-letter-subject.js';
import { InvalidConfigError } from '../errors.js';
import { startExactlyOnce } from '../exactly-once/start-exactly-once.js';
import type { ExactlyOnceConfig, ExactlyOnceHandle, ExactlyOnceStats } from '../exactly-once/types.js';
import type { StateStore } from '../state/types.js';
import { keyFits } from '../state/state-key.js';
import type { Transport } from '../transport/transport.js';
import type { ActorStateAnswer } from './actor-client.js';
import { MAX_ACTOR_KEY_BYTES } from './actor-limits.js';
import { createActorProcessor, type ActorProcessorStats, type ActorRecord } from './actor-processor.js';
import type { ActorSubjects } from './actor-subjects.js';
import { serveActorQueries } from './serve-actor-queries.js';
import { TimerService } from './timer-service.js';
import type { Logger } from '../logger.js';
import type { ActorDefinition, StoredTimer } from './types.js';

/** Options of {@link startActor}. */
export interface StartActorOptions {
  /**
   * Where the actor reads, publishes, answers queries and fires timers: a `NatsTransport`
   * (JetStream), or a `LocalTransport` (in-process, durability off). The caller owns it.
   */
  transport: Transport;
  /** The topology's state store; its `topology` names the actor's subjects. The caller owns it. */
  store: StateStore;
  /**
   * Input stream. Created when missing with `subjects`; the actor's own subjects (tell, timer,
   * reset) are added to it either way.
   */
  stream: string;
  /** Input subjects the stream must capture, besides the actor's own. Default none. */
  subjects?: readonly string[] | undefined;
  /** Subject prefix for addressing. Default `sluice.actor`. */
  prefix?: string | undefined;
  /** Stream keeping dead letters (created or extended). Default `SLUICE_DLQ_<topology>`. */
  deadLetterStream?: string | undefined;
  /** Micro-batch limits of the engine (see `startExactlyOnce`). */
  batch?: ExactlyOnceConfig['batch'];
  outputs?: ExactlyOnceConfig['outputs'];
  /**
   * Act on `.reset` messages (`resetActorKey`), which change state. Default false: they are
   * refused (dead letter `ControlNotAllowedError`), as `runTopology` refuses control without
   * `allowControl`.
   */
  allowControl?: boolean | undefined;
  /** Answer state queries on `<prefix>.<topology>.<actor>.<key>`. Default true. */
  queries?: boolean | undefined;
  /** Timers held in memory at most (the rest wait in LMDB). Default 100000. */
  maxTimersInMemory?: number | undefined;
  scheduler?: SchedulerLike | undefined;
  logger?: Logger | undefined;
  /** @internal TESTING ONLY: passed to the engine. */
  faults?: ExactlyOnceConfig['faults'];
}

/** A running actor; `S` is its state. */
export interface RunningActor<S = unknown> {
  readonly name: string;
  readonly subjects: ActorSubjects;
  readonly engine: ExactlyOnceHandle;
  /** Actor and engine counters. */
  stats(): ActorProcessorStats & { timersInMemory: number; timerFirings: number; engine: ExactlyOnceStats };
  /**
   * The committed state of `key`, read from LMDB in this process (what a state query answers over
   * NATS): never a batch in progress, so it may lag the input stream by the batches not yet
   * committed. `initial(key)` with `found: false` for a key without state (a key longer than
   * `MAX_ACTOR_KEY_BYTES` never has any). Throws once the store is closed.
   */
  state(key: string): ActorStateAnswer<S>;
  /** Settles when the actor stops: resolves after `stop()`, rejects with the engine's fatal error. */
  readonly done: Promise<void>;
  /**
   * Stops timers and queries, drains the engine (see `ExactlyOnceHandle.stop`). After the engine
   * failed it only stops the rest and resolves: the failure is in `done`.
   */
  stop(options?: { timeoutMs?: number | undefined }): Promise<void>;
}

/**
 * Runs an actor: the exactly-once engine on its input stream with the actor's processor, the
 * timer service (loads stored timers, so timers set before a restart fire after it), the state
 * query responder, and a passivation sweep. The engine's name is `actor-<name>`.
 *
 * Streams: the input stream gets the actor's `.tell`, `.timer` and `.reset` subjects; the
 * topology's dead-letter stream `SLUICE_DLQ_<topology>` (`deadLetterStreamConfig`) captures
 * `sluice.dlq.<topology>.<actor>`. Streams for what the behaviour `emit`s must exist already (an
 * output with no stream is retried until one captures it).
 *
 * @example
 * const running = await startActor(stock, { transport, store, stream: 'SHOP', subjects: ['shop.orders.>'] });
 * // ... later
 * await running.stop();
 */
export async function startActor<S, M, P>(def: ActorDefinition<S, M, P>, options: StartActorOptions): Promise<RunningActor<S>> {
  const { transport, store } = options;
  if (typeof options.stream !== 'string' || options.stream.length === 0) {
    throw new InvalidConfigError(`startActor(${def.name})`, 'stream', `must be a stream name, got ${JSON.stringify(options.stream)}`);
  }
  const scheduler = options.scheduler ?? asyncScheduler;
  let timers: TimerService | undefined;
  const processor = createActorProcessor(def, {
    topology: store.topology,
    prefix: options.prefix,
    scheduler,
    logger: options.logger,
    allowControl: options.allowControl,
    io: transport,
    maxDeadLetterBytes: () => transport.maxPayloadBytes,
    timers: { set: (t) => timers?.set(t), cancel: (k, id) => timers?.cancel(k, id) },
  });
  const { subjects, namespaces } = processor;
  timers = new TimerService({
    subjects,
    publish: (subject, data, opts) => transport.publishDurable(subject, data, opts),
    load: () => valuesOf(store.entries<StoredTimer>(namespaces.timers)),
    scheduler,
    maxTimersInMemory: options.maxTimersInMemory,
    logger: options.logger,
  });

  await transport.ensureStream({ name: options.stream, subjects: [...(options.subjects ?? []), ...subjects.streamSubjects] });
  // The topology's one dead-letter stream; a custom name keeps only this actor's subject.
  await transport.ensureStream(
    options.deadLetterStream === undefined ? deadLetterStreamConfig(store.topology) : { name: options.deadLetterStream, subjects: [subjects.deadLetter] },
  );

  const engine = await startExactlyOnce({
    name: `actor-${def.name}`,
    transport,
    store,
    source: { stream: options.stream },
    batch: options.batch,
    outputs: options.outputs,
    process: processor.process,
    logger: options.logger,
    scheduler,
    faults: options.faults,
  });
  timers.start();
  const subs: Subscription[] = [];
  if (options.queries !== false) {
    subs.push(serveActorQueries(def, { transport, subjects, namespace: namespaces.state, read: (ns, key) => store.get(ns, key), logger: options.logger }));
  }
  const sweepEveryMs = Math.min(60_000, Math.max(1_000, def.passivateAfterMs / 2));
  subs.push(interval(sweepEveryMs, scheduler).subscribe(() => processor.sweep()));

  let stopping: Promise<void> | undefined;
  const halt = (): void => {
    timers?.stop();
    for (const s of subs.splice(0)) s.unsubscribe();
  };
  engine.done.then(halt, halt);
  return {
    name: def.name,
    subjects,
    engine,
    done: engine.done,
    stats: () => ({ ...processor.stats(), timersInMemory: timers?.size ?? 0, timerFirings: timers?.firings ?? 0, engine: engine.stats }),
    state(key) {
      const rec = keyFits(key, MAX_ACTOR_KEY_BYTES) ? store.get<ActorRecord<S>>(namespaces.state, key) : undefined;
      return rec !== undefined ? { state: rec.s, found: true, stopped: rec.stop !== undefined } : { state: def.initial(key), found: false, stopped: false };
    },
    stop(stopOptions) {
      stopping ??= (async () => {
        halt();
        // The engine's stop rejects only with the failure that stopped it, which `done` reports.
        await engine.stop(stopOptions).catch(() => undefined);
      })();
      return stopping;
    },
  };
}

function* valuesOf<V>(entries: Iterable<{ value: V }>): Iterable<V> {
  for (const e of entries) yield e.value;
}
