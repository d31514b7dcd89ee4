import { pino } from 'pino';
import { childLogger, type Logger } from '../logger.js';
import { asyncScheduler, isObservable, Observable, ReplaySubject, type SchedulerLike, type Subscription } from 'rxjs';
import { ensureError, InvalidConfigError } from '../errors.js';
import type { Transport } from '../transport/transport.js';
import type { Envelope } from '../envelope/envelope.js';
import { requireSupervision, type SupervisionMode } from '../settle/supervision.js';
import { createTopologyContext } from './create-topology-context.js';
import { deadLetterStreamConfig, deadLetterSubject } from '../dead-letter/dead-letter-subject.js';
import type { Topology } from './define-topology.js';
import { traceSources } from '../observe/lineage.js';
import { PipelineSupervisor, restartSettings, type RestartSettings } from './pipeline-supervisor.js';
import { whileBuilding } from '../observe/operator-stats.js';
import { withDeadLetters } from '../dead-letter/dead-letter-scope.js';
import { PartCounters, type PartReading } from '../observe/part-stats.js';
import { RuntimeStats, type StatsObserver, type StatsSnapshot } from '../observe/runtime-stats.js';
import { supervisionOf } from './supervised.js';
import { serveTopologyService } from './serve-topology-service.js';
import { watchConnection } from './watch-connection.js';
import type { TopologyContext, WiringNode } from './types.js';
import { fileNodesOf } from './describe-topology.js';

/** Options for {@link runTopology}. */
export interface RunTopologyOptions {
  transport: Transport;
  /** Any pino-compatible logger. Default: pino at `info` on stderr. */
  logger?: Logger | undefined;
  /** Stop (and drain) after this long, ms. Default: run until `stop()`. */
  durationMs?: number | undefined;
  /** Scheduler for the topology's timing and the duration. Default `asyncScheduler`. */
  scheduler?: SchedulerLike | undefined;
  /** Receives the topology's one-line status reports. Default: logged at `info`. */
  report?: ((line: string) => void) | undefined;
  /** How long a drain waits for pipelines and in-flight publishes before cutting them off, ms. Default 5000. */
  drainTimeoutMs?: number | undefined;
  /** Close the transport after draining. Default true. */
  closeTransport?: boolean | undefined;
  /**
   * On a NATS transport, register the topology as the micro service `sluice-<topology>` with
   * stats, describe and dead-letter listing endpoints (see `serveTopologyService`). Default true.
   */
  service?: boolean | undefined;
  /**
   * Keep dead letters in the JetStream stream `SLUICE_DLQ_<topology>` (subjects
   * `sluice.dlq.<topology>` and `sluice.dlq.<topology>.>`; 7 days, at most 100000 messages / 256 MiB, oldest dropped first)
   * so they can be listed and replayed. Default true; when the
   * stream cannot be created (no JetStream) dead letters are core-published, with a warning.
   */
  deadLetterStream?: boolean | undefined;
  /**
   * Act on control that changes things: the service's dead-letter replay endpoint and actors'
   * key resets (`resetActorKey`). Default false: a replay request is refused with code 403 and a
   * reset is dead-lettered as a `ControlNotAllowedError` (answered with 403 when it waits for an
   * answer), whatever the caller's NATS permissions (see the README's security section for the
   * permissions to give when it is on).
   */
  allowControl?: boolean | undefined;
  /** Told about each output as it is published (the metrics endpoint's latency histogram). Default none. */
  statsObserver?: StatsObserver | undefined;
  /** Where mounted actors and durable batches keep LMDB state. Default `SLUICE_STATE_DIR`, else `./.sluice/state`. */
  stateDir?: string | undefined;
  /**
   * What a pipeline error does (a stage threw on a message), for pipelines that do not set their
   * own with `supervised`: see {@link SupervisionMode}. Default: the topology's own
   * (`defineTopology(name, build, { supervision })`), else `'resume'`.
   */
  supervision?: SupervisionMode | undefined;
  /** How failed pipelines are restarted under `'resume'`/`'retry'`; see {@link RestartSettings}. */
  restart?: RestartSettings | undefined;
}

/** Why a run ended. */
export type StopReason = 'stopped' | 'duration' | 'completed' | 'failed';

/** How a run ended. */
export interface TopologyExit {
  readonly reason: StopReason;
  /** The pipeline error, when `reason` is 'failed'. */
  readonly error?: Error | undefined;
  /** Which part failed: `pipeline <n>` (in the order the builder returned them), `actor <name>`, ... */
  readonly failedPart?: string | undefined;
  readonly elapsedMs: number;
  readonly stats: StatsSnapshot;
  /** What the drain did (also logged as one record when the run ends). */
  readonly drain: DrainSummary;
}

/** What a drain did, between the stop and the end of the run. */
export interface DrainSummary {
  /** Wall-clock ms the drain took. */
  readonly ms: number;
  /** Stream messages settled during the drain: acknowledged, or handed back for redelivery when their effects failed (unsettled at its start less those left). */
  readonly inputsSettled: number;
  /** Values sinks published (after the ack, when durable) and other tracked durable publishes (dead letters) that finished during the drain. */
  readonly outputsFlushed: number;
  /** Batches emitted or committed during the drain by every part that counts batches (open micro-batches, windows, engine commits, durable-batch flushes). */
  readonly batchesFlushed: number;
  /** Stream messages still unacknowledged at the end: redelivered on the next start. */
  readonly unsettledLeft: number;
  /** Publishes still unanswered at the end, sinks' included (their inputs are unacknowledged too). */
  readonly outputsLeft: number;
  /** Drain steps cut off by `drainTimeoutMs`: `pipelines`, `publishes`, `onStop hooks`, `transport`. */
  readonly cutOff: readonly string[];
}

/** A running topology. */
export interface RunningTopology {
  readonly name: string;
  readonly stats: TopologyContext['stats'];
  /** Drains (see {@link runTopology}) and resolves when done; idempotent. */
  stop(): Promise<TopologyExit>;
  /** Resolves when the run ends for any reason: `stop()`, the duration, completion or failure. */
  readonly done: Promise<TopologyExit>;
}

/**
 * Runs a topology on a transport: builds it, subscribes the pipelines it returns, and keeps
 * running until `stop()`, `durationMs`, every pipeline completing, or a pipeline error.
 * It resolves once every engine part (actor, durable batch, durable window) has started or failed
 * to start and the broker has seen the subscriptions made so far (a flush, up to 2 s), so a
 * topology reported running answers its actors' state queries and its core-subject requests.
 *
 * Stopping drains: timers and generators stop (`untilStopped`), the transport is flushed so
 * what was already published reaches the topology's own sources, sources complete (so batching
 * operators flush), the runtime waits for the pipelines and in-flight durable publishes (each
 * step up to `drainTimeoutMs`, then cut off with a warning), runs `onStop` hooks, flushes the
 * transport and closes it.
 * A pipeline error (a stage threw on a message) is handled by the pipeline's supervision
 * (`supervision`, default `'resume'`: the message is dead-lettered and the pipeline resubscribed;
 * see `PipelineSupervisor`); under `'stop'`, or when it keeps failing, the run ends with reason
 * 'failed' and a `TopologyFailedError`. A builder that throws rejects the returned promise.
 *
 * @example
 * ```ts
 * const run = await runTopology(greeter, { transport: new LocalTransport(), durationMs: 5_000 });
 * const exit = await run.done; // { reason: 'duration', stats: { received, published, deadLetters }, ... }
 * ```
 */
export async function runTopology(topology: Topology, options: RunTopologyOptions): Promise<RunningTopology> {
  const { transport } = options;
  const drainTimeoutMs = options.drainTimeoutMs ?? 5_000;
  if (options.durationMs !== undefined && !(options.durationMs >= 0)) {
    throw new InvalidConfigError('runTopology', 'durationMs', `must be >= 0, got ${options.durationMs}`);
  }
  if (!(drainTimeoutMs >= 0)) throw new InvalidConfigError('runTopology', 'drainTimeoutMs', `must be >= 0, got ${drainTimeoutMs}`);
  const scheduler = options.scheduler ?? asyncScheduler;
  const logger = childLogger(options.logger ?? pino({ level: 'info' }, pino.destination(2)), { topology: topology.name });
  const report = options.report ?? ((line: string) => logger.info({}, line));
  const stats = new RuntimeStats(options.statsObserver);
  const abort = new AbortController();
  const stopping$ = new ReplaySubject<void>(1);
  const closing$ = new ReplaySubject<void>(1);
  const inFlight = new Set<Promise<unknown>>();
  // Publishes finished, for the drain summary: one counter bump per publish.
  let publishesFinished = 0;
  const stopHooks: Array<() => void | Promise<void>> = [];
  const nodes: WiringNode[] = [];
  const parts: Array<{ part: Observable<unknown>; name: string }> = [];
  const startedAt = scheduler.now();
  const supervision = requireSupervision('runTopology', options.supervision ?? topology.supervision);
  const restart = restartSettings(options.restart);
  const coreInput: { current: Envelope<Uint8Array> | undefined } = { current: undefined };

  const durableDeadLetters = options.deadLetterStream !== false && (await ensureDeadLetterStream(transport, topology.name, logger));
  const { ctx, publishDeadLetter } = createTopologyContext({
    topologyName: topology.name,
    transport,
    logger,
    scheduler,
    stats,
    signal: abort.signal,
    stopping$,
    closing$,
    durableDeadLetters,
    track: (work) => {
      inFlight.add(work);
      void work.finally(() => {
        inFlight.delete(work);
        publishesFinished++;
      });
    },
    onStop: (hook) => stopHooks.push(hook),
    report,
    wire: (node) => nodes.push(node),
    run: (part, name) => parts.push({ part, name }),
    stateDir: options.stateDir,
    allowControl: options.allowControl === true,
    coreInput,
  });

  let resolveDone!: (exit: TopologyExit) => void;
  const done = new Promise<TopologyExit>((resolve) => (resolveDone = resolve));
  const subscriptions: Array<{ unsubscribe(): void }> = [];
  const supervisors: PipelineSupervisor[] = [];
  let stopping = false;
  const pipelinesDone: Array<Promise<void>> = [];
  let stopPromise: Promise<TopologyExit> | undefined;
  let durationTimer: Subscription | undefined;
  let service: { stop(): Promise<void> } | undefined;
  let outages: Subscription | undefined;

  const stop = (reason: StopReason, error?: Error, failedPart?: string): Promise<TopologyExit> => {
    stopPromise ??= (async () => {
      stopping = true;
      stats.markStopping(reason);
      logger.info({ reason }, 'draining');
      const before = { at: performance.now(), unsettled: stats.unsettled, publishes: publishesFinished, ...partTotals(stats) };
      const cutOff: string[] = [];
      abort.abort();
      stopping$.next();
      // Let what generators and pipelines published before the stop come back to our own
      // sources before those complete, so a drain does not cut off in-process traffic.
      await within(
        transport.flush().catch(() => undefined),
        drainTimeoutMs,
      );
      closing$.next();
      for (const s of supervisors) s.drain();
      if (!(await within(Promise.all(pipelinesDone), drainTimeoutMs))) {
        logger.warn({ drainTimeoutMs }, 'pipelines did not complete in time: cutting them off');
        cutOff.push('pipelines');
      }
      for (const s of subscriptions) s.unsubscribe();
      if (!(await within(Promise.all(inFlight), drainTimeoutMs))) {
        logger.warn({ pending: inFlight.size }, 'in-flight publishes did not finish in time');
        cutOff.push('publishes');
      }
      // Read before the onStop hooks: they close the stores that actors and durable batches read their counts from.
      const after = partTotals(stats);
      await service?.stop().catch((err: unknown) => logger.warn({ err: ensureError(err) }, 'stopping the service failed'));
      for (const hook of stopHooks) {
        // Bounded too: a part stuck on a dead disk or a held lock must not keep the process alive.
        const finished = (async () => hook())().catch((err: unknown) => logger.error({ err: ensureError(err) }, 'onStop hook failed'));
        if (!(await within(finished, drainTimeoutMs))) {
          logger.warn({ drainTimeoutMs }, 'an onStop hook did not finish in time: going on without it');
          if (!cutOff.includes('onStop hooks')) cutOff.push('onStop hooks');
        }
      }
      // A broker that went away must not hang the exit: bounded like the rest of the drain.
      const finish = (async () => {
        await transport.flush();
        if (options.closeTransport !== false) await transport.close();
      })().catch((err: unknown) => logger.error({ err: ensureError(err) }, 'transport flush/close failed'));
      if (!(await within(finish, drainTimeoutMs))) {
        logger.warn({ drainTimeoutMs }, 'transport flush/close did not finish in time');
        cutOff.push('transport');
      }
      durationTimer?.unsubscribe();
      outages?.unsubscribe();
      const drain: DrainSummary = {
        ms: Math.round(performance.now() - before.at),
        inputsSettled: Math.max(0, before.unsettled - stats.unsettled),
        outputsFlushed: after.sinkOut - before.sinkOut + publishesFinished - before.publishes,
        batchesFlushed: after.batches - before.batches,
        unsettledLeft: stats.unsettled,
        outputsLeft: inFlight.size + after.sinkUnsettled,
        cutOff,
      };
      const exit: TopologyExit = { reason, error, failedPart, elapsedMs: scheduler.now() - startedAt, stats: stats.snapshot(), drain };
      logger.info({ reason, elapsedMs: exit.elapsedMs, ...summaryFields(exit.stats), drain }, `stopped (${reason}): ${describeDrain(drain)}`);
      resolveDone(exit);
      return exit;
    })();
    return stopPromise;
  };

  let output: ReturnType<Topology['build']>;
  try {
    output = whileBuilding(stats, () => withDeadLetters(publishDeadLetter, () => topology.build(ctx)));
    nodes.push(...fileNodesOf(output));
  } catch (err) {
    abort.abort();
    stopping$.next();
    closing$.next();
    if (options.closeTransport !== false) await transport.close().catch(() => undefined);
    throw err;
  }

  const all = [
    ...pipelinesOf(output).map((part, i) => ({ part, name: `pipeline ${i + 1}`, counters: new PartCounters('pipeline', `pipeline ${i + 1}`) })),
    ...parts.map((p) => ({ ...p, counters: undefined })),
  ];
  for (const { part: pipeline, name: partName, counters } of all) {
    // A pipeline's `in` is what its sources report; here, what comes out of its end.
    if (counters !== undefined) stats.registerPart(counters);
    pipelinesDone.push(
      new Promise<void>((resolve) => {
        const supervisor = new PipelineSupervisor({
          topology: topology.name,
          name: partName,
          pipeline: counters !== undefined ? countingOutputs(pipeline, counters) : pipeline,
          supervision: supervisionOf(pipeline) ?? supervision,
          restart,
          logger,
          scheduler,
          coreInput,
          // eslint-disable-next-line @typescript-eslint/unbound-method -- the context's methods are bound closures
          deadLetter: ctx.deadLetter,
          received: receivedBy(pipeline, stats),
          stopping: () => stopping,
          failed: (error) => {
            if (counters !== undefined) counters.state = 'failed';
            void stop('failed', error, partName);
          },
          ended: () => {
            if (counters !== undefined && counters.state === 'running') counters.state = 'completed';
            resolve();
          },
        });
        subscriptions.push(supervisor);
        supervisors.push(supervisor);
        supervisor.start();
      }),
    );
  }
  if (isSubscription(output)) subscriptions.push(output);
  outages = watchConnection(transport, {
    logger,
    stats,
    coreSubjects: () => nodes.filter((n) => n.kind === 'source' || n.kind === 'respond').map((n) => n.subject),
  });

  await stats.started();
  await flushWithin(transport, 2_000);

  // A topology whose every pipeline finished (a finite batch job) has nothing left to do.
  if (pipelinesDone.length > 0) void Promise.all(pipelinesDone).then(() => stop('completed'));
  if (options.durationMs !== undefined) durationTimer = scheduler.schedule(() => void stop('duration'), options.durationMs);
  if (options.service !== false && stopPromise === undefined) {
    try {
      service = await serveTopologyService({
        transport,
        topology: topology.name,
        stats,
        nodes,
        deadLetterStream: durableDeadLetters,
        allowControl: options.allowControl === true,
        now: () => scheduler.now(),
      });
      // A stop that began while registering has already passed the point where it stops the service.
      if (stopPromise !== undefined) await service?.stop();
    } catch (err) {
      logger.warn({ err: ensureError(err) }, 'could not register the micro service; running without it');
    }
  }
  logger.info({ transport: transport.kind, durable: transport.durable, deadLetters: deadLetterSubject(topology.name) }, 'started');

  return { name: topology.name, stats, stop: () => stop('stopped'), done };
}

/** Flushes so the broker has the subscriptions made so far; a broker that does not answer in `ms` is left to the reconnect logic. */
async function flushWithin(transport: Transport, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([transport.flush().catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

async function ensureDeadLetterStream(transport: Transport, topology: string, logger: Logger): Promise<boolean> {
  try {
    await transport.ensureStream(deadLetterStreamConfig(topology));
    return true;
  } catch (err) {
    logger.warn({ err: ensureError(err) }, 'no dead-letter stream (JetStream unavailable?): dead letters are core-published only');
    return false;
  }
}

/** Counts the messages the sources of `pipeline` received (all sources' when they cannot be traced). */
function receivedBy(pipeline: Observable<unknown>, stats: RuntimeStats): () => number {
  const subjects = traceSources(pipeline)
    .sources.filter((n) => n.kind === 'source' || n.kind === 'stream' || n.kind === 'poll')
    .flatMap((n) => n.subject.split(', '));
  if (subjects.length === 0) return () => stats.total('received');
  return () => subjects.reduce((sum, s) => sum + stats.total('received', s), 0);
}

function pipelinesOf(output: ReturnType<Topology['build']>): Observable<unknown>[] {
  if (isObservable(output)) return [output];
  if (Array.isArray(output)) return output.filter((o): o is Observable<unknown> => isObservable(o));
  return [];
}

function isSubscription(output: unknown): output is { unsubscribe(): void } {
  return !isObservable(output) && !Array.isArray(output) && typeof (output as { unsubscribe?: unknown } | undefined)?.unsubscribe === 'function';
}

async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([work.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Batches counted by every part, values sinks published and publishes they await (a stop-time read, never on a message path). */
function partTotals(stats: RuntimeStats): { batches: number; sinkOut: number; sinkUnsettled: number } {
  const totals = { batches: 0, sinkOut: 0, sinkUnsettled: 0 };
  for (const p of stats.parts()) {
    let r: PartReading;
    try {
      r = p.read();
    } catch {
      continue; // a part whose store is already closed has nothing more to add
    }
    totals.batches += r.batches ?? 0;
    if (p.kind !== 'sink') continue;
    totals.sinkOut += r.out;
    totals.sinkUnsettled += r.unsettled ?? 0;
  }
  return totals;
}

function describeDrain(d: DrainSummary): string {
  const left = d.unsettledLeft + d.outputsLeft;
  return (
    `drained in ${d.ms} ms: ${d.inputsSettled} inputs settled, ${d.outputsFlushed} outputs flushed, ${d.batchesFlushed} batches flushed, ` +
    `${left === 0 ? 'nothing left unsettled' : `${d.unsettledLeft} inputs and ${d.outputsLeft} outputs left unsettled (redelivered on the next start)`}` +
    (d.cutOff.length > 0 ? `; cut off by the drain timeout: ${d.cutOff.join(', ')}` : '')
  );
}

function summaryFields(s: StatsSnapshot): { received: number; published: number; deadLetters: number } {
  const sum = (r: Readonly<Record<string, number>>) => Object.values(r).reduce((a, b) => a + b, 0);
  return { received: sum(s.received), published: sum(s.published), deadLetters: s.deadLetters };
}

/** The pipeline with each value out of its end counted (one counter bump, no allocation). */
function countingOutputs(pipeline: Observable<unknown>, counters: PartCounters): Observable<unknown> {
  return new Observable<unknown>((subscriber) =>
    pipeline.subscribe({
      next(value) {
        counters.out++;
        subscriber.next(value);
      },
      error(err: unknown) {
        subscriber.error(err);
      },
      complete() {
        subscriber.complete();
      },
    }),
  );
}
