import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import { NEVER, Observable, interval } from 'rxjs';
import { InvalidConfigError, ensureError } from '../errors.js';
import { defineTopology, type Topology } from '../runtime/define-topology.js';
import type { TopologyContext } from '../runtime/types.js';
import { openStateStore } from '../state/open-state-store.js';
import type { StateStore } from '../state/types.js';
import { startActor, type RunningActor, type StartActorOptions } from './start-actor.js';
import type { ActorDefinition } from './types.js';

/** Options of {@link actorTopology}. */
export interface ActorTopologyOptions extends Omit<StartActorOptions, 'nc' | 'store' | 'log' | 'scheduler'> {
  /**
   * Directory holding the topology's LMDB state (`<stateDir>/<topology>`). Default: the
   * `SLUICE_STATE_DIR` environment variable, else `./.sluice/state`.
   */
  stateDir?: string | undefined;
  /** Streams to create (or extend) before starting, e.g. where the behaviour emits. */
  ensureStreams?: readonly { name: string; subjects: readonly string[] }[] | undefined;
  /** One status line every this many ms; 0 = none. Default 5000. */
  reportEveryMs?: number | undefined;
}

/**
 * A topology that runs one actor, so `sluice run` can start it: it opens the topology's state
 * store, starts the actor on the exactly-once engine (see `startActor`) and, when the run drains,
 * stops the actor (finishing the batch in progress and the outbox) and closes the store.
 *
 * Needs a NATS transport with JetStream; with the in-process transport the run fails at start,
 * saying so (exactly-once state needs a durable stream).
 *
 * @example
 * export default actorTopology('stock-reservation', stockReservation(), {
 *   stream: 'SHOP_STOCK', subjects: ['shop.stock.reserve', 'shop.stock.confirm'],
 * });
 */
export function actorTopology<S, M, P>(name: string, def: ActorDefinition<S, M, P>, options: ActorTopologyOptions): Topology {
  return defineTopology(name, (t) => runActor(t, def, options));
}

function runActor<S, M, P>(t: TopologyContext, def: ActorDefinition<S, M, P>, options: ActorTopologyOptions): Observable<never> {
  return new Observable<never>((subscriber) => {
    let store: StateStore | undefined;
    let running: RunningActor | undefined;
    const transport = t.transport as typeof t.transport & { nc?: NatsConnection };
    t.onStop(async () => {
      await running?.stop();
      await store?.close();
    });
    const start = async (): Promise<void> => {
      if (transport.kind !== 'nats' || transport.nc === undefined) {
        throw new InvalidConfigError(`actor '${def.name}'`, 'transport', 'must be NATS with JetStream: actors keep exactly-once state against a durable stream (the in-process transport has none)');
      }
      const root = options.stateDir ?? process.env['SLUICE_STATE_DIR'] ?? join(process.cwd(), '.sluice', 'state');
      store = openStateStore({ dir: join(root, t.topologyName), topology: t.topologyName });
      for (const s of options.ensureStreams ?? []) await transport.ensureStream({ name: s.name, subjects: s.subjects });
      running = await startActor(def, { ...options, nc: transport.nc, store, log: t.logger, scheduler: t.scheduler });
      running.done.catch((err: unknown) => subscriber.error(ensureError(err)));
      const every = options.reportEveryMs ?? 5_000;
      if (every > 0) {
        subscriber.add(
          interval(every, t.scheduler).subscribe(() => {
            const s = running!.stats();
            t.report(`${t.topologyName}/${def.name} | position ${s.engine.position} | handled ${s.handled} | dlq ${s.deadLettered} | keys in memory ${s.keysInMemory} | timers ${s.timersInMemory}, fired ${s.timersFired}`);
          }),
        );
      }
    };
    start().catch((err: unknown) => subscriber.error(ensureError(err)));
    // Completes when the run drains; the onStop hook then stops the actor.
    subscriber.add(NEVER.pipe(t.untilStopped()).subscribe({ complete: () => subscriber.complete() }));
  });
}
