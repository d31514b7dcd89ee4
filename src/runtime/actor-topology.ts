import type { Observable } from 'rxjs';
import { runEnginePart } from './engine-part.js';
import { defineTopology, type Topology } from './define-topology.js';
import type { TopologyContext } from './types.js';
import { checkPayload, validateSchemaOption } from '../schema/check-payload.js';
import { jsonSchemasBySubject } from '../schema/json-schema-of.js';
import { withLazyJsonSchemas } from '../observe/lazy-json-schemas.js';
import type { PayloadSchema } from '../schema/payload-schema.js';
import { actorSubjects } from '../actors/actor-subjects.js';
import { startActor, type RunningActor } from '../actors/start-actor.js';
import type { ActorStarted } from './actor-state-reader.js';
import type { ActorTopologyOptions } from './mount-types.js';
import type { ActorDefinition } from '../actors/types.js';

/**
 * A topology that runs one actor, so `sluice run` can start it: it opens the topology's state
 * store, starts the actor on the exactly-once engine (see `startActor`) and, when the run drains,
 * stops the actor (finishing the batch in progress and the outbox) and closes the store.
 *
 * On NATS (JetStream) state and outputs are exactly-once across crashes. On the in-process
 * transport it runs the same way — timers, queries, supervision — without durability: streams
 * live in memory, the state in a temporary directory, and the engine warns once at start
 * ("durability off: in-process transport").
 *
 * @example
 * export default actorTopology('stock', inventory(), {
 *   stream: 'SHOP_STOCK', subjects: ['shop.stock.reserve', 'shop.stock.confirm'],
 * });
 */
export function actorTopology<S, M, P>(name: string, def: ActorDefinition<S, M, P>, options: ActorTopologyOptions): Topology {
  return defineTopology(name, actorPart(name, def, options));
}

/**
 * Internal: the builder of {@link actorTopology} (declare the actor, run it), which `t.actor`
 * also uses; `onStarted` hears of the running actor (or of its failure to start), so
 * `t.actorState` can read its committed state in-process.
 */
export function actorPart<S, M, P>(
  name: string,
  def: ActorDefinition<S, M, P>,
  options: ActorTopologyOptions,
  onStarted?: ActorStarted<S>,
): (t: TopologyContext) => Observable<never> {
  for (const [subject, schema] of Object.entries(options.schemas ?? {})) validateSchemaOption(schema, `actorTopology(${name}) schemas['${subject}']`);
  const checked = withInputSchemas(def, options.schemas);
  return (t) => {
    const subjects = actorSubjects({ topology: t.topologyName, actor: def.name, prefix: options.prefix });
    t.declare(
      withLazyJsonSchemas(
        {
          kind: 'actor',
          name: def.name,
          stream: options.stream,
          subject: [...(options.subjects ?? []), ...subjects.streamSubjects].join(', '),
          inputs: options.subjects ?? [],
          emits: (options.ensureStreams ?? []).flatMap((s) => s.subjects),
          outputStreams: options.ensureStreams ?? [],
          deadLetterSubject: subjects.deadLetter,
          queryPattern: options.queries !== false ? subjects.queryPattern : undefined,
        },
        { payloads: () => jsonSchemasBySubject(options.schemas, options.jsonSchemas) },
      ),
    );
    return runActor(t, checked, options, onStarted);
  };
}

/**
 * The definition with its inputs checked against their subject's schema where the key is taken:
 * a throwing key dead-letters the message without running (or stopping) the behaviour.
 */
function withInputSchemas<S, M, P>(def: ActorDefinition<S, M, P>, schemas: Readonly<Record<string, PayloadSchema>> | undefined): ActorDefinition<S, M, P> {
  if (schemas === undefined || Object.keys(schemas).length === 0) return def;
  const bySubject = new Map(Object.entries(schemas));
  return {
    ...def,
    key: (msg) => {
      const schema = bySubject.get(msg.subject);
      if (schema !== undefined) checkPayload(schema, msg.data, msg);
      return def.key(msg);
    },
  };
}

function runActor<S, M, P>(
  t: TopologyContext,
  def: ActorDefinition<S, M, P>,
  options: ActorTopologyOptions,
  onStarted: ActorStarted<S> | undefined,
): Observable<never> {
  return runEnginePart<RunningActor<S>>(t, {
    kind: 'actor',
    name: `actor ${def.name}`,
    stream: options.stream,
    // The run's state directory (runTopology's stateDir) unless this part names its own.
    stateDir: options.stateDir,
    start: async (store) => {
      for (const s of options.ensureStreams ?? []) await t.transport.ensureStream({ name: s.name, subjects: s.subjects });
      return startActor(def, { ...options, transport: t.transport, store, logger: t.logger, scheduler: t.scheduler, allowControl: t.allowControl });
    },
    read: (actor) => {
      const s = actor.stats();
      const e = s.engine;
      return {
        position: e.position,
        in: e.inputs,
        out: e.outputs,
        deadLetters: s.deadLettered,
        unsettled: e.inFlight,
        batches: e.batches,
        lastBatchSize: e.lastBatchSize,
        maxBatchSize: e.maxBatchSize,
        actors: s.keysInMemory,
        outbox: e.pendingOutputs,
        detail: {
          position: e.position,
          handled: s.handled,
          timersFired: s.timersFired,
          timersInMemory: s.timersInMemory,
          evictions: s.evictions,
          acked: e.acked,
          duplicates: e.duplicates,
          resent: e.resent,
          publishErrors: e.publishErrors,
          consumerResets: e.consumerResets,
          staleOutputsUnverified: e.staleOutputsUnverified,
        },
      };
    },
    statusLine: (actor) => {
      const s = actor.stats();
      return `${t.topologyName}/${def.name} | position ${s.engine.position} | handled ${s.handled} | dlq ${s.deadLettered} | keys in memory ${s.keysInMemory} | timers ${s.timersInMemory}, fired ${s.timersFired}`;
    },
    reportEveryMs: options.reportEveryMs,
    started: (actor) => onStarted?.started(actor),
    startFailed: (error) => onStarted?.failed(error),
  });
}
