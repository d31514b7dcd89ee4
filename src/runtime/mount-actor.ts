import { EMPTY, mergeMap, Observable } from 'rxjs';
import { actorKeyOf } from '../actors/actor-key-of.js';
import { actorSubjects } from '../actors/actor-subjects.js';
import { actorPart } from './actor-topology.js';
import type { TopologyActorOptions } from './mount-types.js';
import type { ActorDefinition } from '../actors/types.js';
import type { Envelope } from '../envelope/envelope.js';
import type { TopologyContext, WiringNode } from './types.js';
import { handedOver, runHandOver } from './hand-over.js';
import { supervised } from './supervised.js';
import { ActorSlot } from './actor-state-reader.js';

/** What mounting needs from the context under construction. Internal. */
export interface MountDeps {
  readonly ctx: TopologyContext;
  /** Runs an Observable as a part of the topology (subscribed and drained by the runtime). */
  readonly run: (part: Observable<unknown>, name: string) => void;
  readonly wire?: ((node: WiringNode) => void) | undefined;
  /** The actors mounted so far, by name, for `t.actorState`. */
  readonly actors?: Map<string, ActorSlot<unknown>> | undefined;
}

/**
 * `t.actor`: the actor runs on the exactly-once engine over its own input stream, and `input`
 * reaches that stream through a durable sink whose message ids derive from the input positions —
 * the same hand-over Kafka Streams makes through a repartition topic before a stateful step. So
 * the whole path stream → operators → actor → JetStream outputs is exactly-once, per-key order
 * follows the input stream's order across crashes (a restarted stream source re-reads from its
 * ack floor; what it does not cover: docs/guarantees.md, Per-key order), and each part can fail
 * and restart on its own. Several
 * inputs (an array) are merged into the one hand-over, each keeping its own order and guarantee.
 */
export function mountActor<S, M, P>(
  deps: MountDeps,
  def: ActorDefinition<S, M, P>,
  inputs: Observable<Envelope<M>> | readonly Observable<Envelope<M>>[] | undefined,
  options: TopologyActorOptions = {},
): Observable<Envelope<unknown>> {
  const { ctx } = deps;
  const subjects = actorSubjects({ topology: ctx.topologyName, actor: def.name, prefix: options.prefix });
  const streamName = options.stream ?? `SLUICE_ACTOR_${ctx.topologyName}_${def.name}`;
  // Each input is addressed to its key's `.tell` subject; several inputs are merged by the hand-over.
  // The key is checked here as the actor would check it (a throw past this point would restart the
  // pipeline, failing the other inputs it holds): an input without a usable key is one dead letter.
  const toTell = mergeMap((env: Envelope<M>) => {
    let tell: string;
    try {
      tell = subjects.tell(actorKeyOf(def, env));
    } catch (err) {
      // No key, no actor: the input's dead letter is its last effect (it settles once stored).
      ctx.deadLetter(env, err, `actor:${def.name}`);
      return EMPTY;
    }
    return [handedOver(env, tell)];
  });
  const lanes = (isInputList(inputs) ? inputs : inputs !== undefined ? [inputs] : []).map((input) => input.pipe(toTell));
  if (lanes.length > 0) {
    const tell = `${subjects.base}.*.tell`;
    runHandOver(
      deps,
      { stream: { name: streamName, subjects: subjects.streamSubjects }, sinkName: `actor-${def.name}`, sinkSubjects: [tell], label: `actor ${def.name}` },
      lanes,
    );
  }

  const { emits, stream: _s, ...runOptions } = options;
  const ensureStreams = emits !== undefined ? [{ name: emits.stream, subjects: emits.subjects }] : [];
  const slot = new ActorSlot<S>();
  if (!deps.actors?.has(def.name)) deps.actors?.set(def.name, slot as ActorSlot<unknown>);
  // actorPart declares the actor (its stream, outputs and their schemas, dead letters) to describe.
  // The engine handles bad input itself (its own supervision); an error out of it is a fault (storage): stop.
  const schemas = { ...runOptions.schemas, ...emits?.schemas };
  const jsonSchemas = { ...runOptions.jsonSchemas, ...emits?.jsonSchemas };
  const engine = actorPart(
    ctx.topologyName,
    def,
    { ...runOptions, stateDir: runOptions.stateDir ?? ctx.stateDir, stream: streamName, ensureStreams, schemas, jsonSchemas },
    slot,
  )(ctx);
  deps.run(supervised(engine, 'stop'), `actor ${def.name}`);
  if (emits === undefined || emits.readBack === false) return EMPTY;
  return ctx.stream(emits.stream, [...emits.subjects], { durableName: `sluice_${ctx.topologyName}_${def.name}_out` });
}

function isInputList<M>(inputs: Observable<Envelope<M>> | readonly Observable<Envelope<M>>[] | undefined): inputs is readonly Observable<Envelope<M>>[] {
  return Array.isArray(inputs);
}
