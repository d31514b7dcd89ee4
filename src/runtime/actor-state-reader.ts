import type { ActorStateAnswer } from '../actors/actor-client.js';
import type { RunningActor } from '../actors/start-actor.js';
import type { ActorDefinition } from '../actors/types.js';
import { InvalidConfigError } from '../errors.js';

/**
 * Reads the committed state of an actor mounted in the same topology (see
 * {@link TopologyContext.actorState}), in-process: no NATS round trip, no copy of the state.
 */
export interface ActorStateReader<S> {
  /**
   * The committed state of `key` — what `queryActorState` answers over NATS: `initial(key)` with
   * `found: false` for a key without state, `stopped` when supervision stopped the key. It never
   * shows a batch in progress, so it lags the actor's input stream by the batches not yet
   * committed (milliseconds when the actor keeps up). Waits while the actor is starting; rejects
   * when it could not start or the run has stopped (its store is closed).
   */
  get(key: string): Promise<ActorStateAnswer<S>>;
  /**
   * The same, synchronously: for a hot path that should not pay for a Promise (a responder whose
   * handler returns a plain value answers without arming its deadline). `undefined` while the
   * actor is starting — fall back on {@link get} then. Throws once the run has stopped.
   */
  read(key: string): ActorStateAnswer<S> | undefined;
}

/** Internal: told when an actor part has started, or could not start. */
export interface ActorStarted<S> {
  started(actor: RunningActor<S>): void;
  failed(error: Error): void;
}

/** Internal: where `t.actor` records a mounted actor, so a reader can find it by name. */
export class ActorSlot<S> implements ActorStarted<S> {
  running: RunningActor<S> | undefined;
  readonly ready: Promise<RunningActor<S>>;
  private resolve!: (actor: RunningActor<S>) => void;
  private reject!: (error: Error) => void;

  constructor() {
    this.ready = new Promise<RunningActor<S>>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // Nobody may be reading: a failed start is reported by the part itself, not as an unhandled rejection.
    this.ready.catch(() => undefined);
  }

  started(actor: RunningActor<S>): void {
    this.running = actor;
    this.resolve(actor);
  }

  failed(error: Error): void {
    this.reject(error);
  }
}

/**
 * `t.actorState(def)`: a reader of the actor `def.name` that `t.actor` mounted in this topology.
 * @throws InvalidConfigError when no actor of that name was mounted (mount it first).
 */
export function actorStateReader<S>(
  deps: { readonly actors?: Map<string, ActorSlot<unknown>> | undefined },
  def: Pick<ActorDefinition<S, unknown, unknown>, 'name'>,
): ActorStateReader<S> {
  const slot = deps.actors?.get(def?.name) as ActorSlot<S> | undefined;
  if (slot === undefined) {
    throw new InvalidConfigError(
      'actorState',
      'def',
      `names actor '${String(def?.name)}', which this topology has not mounted: call t.actor(def, input) before t.actorState(def)`,
    );
  }
  return {
    get: async (key) => (slot.running ?? (await slot.ready)).state(key),
    read: (key) => slot.running?.state(key),
  };
}
