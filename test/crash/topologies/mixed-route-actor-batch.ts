import { filter, type OperatorFunction } from 'rxjs';
import { actor, defineTopology, type ActorDefinition, type Envelope, type TopologyContext } from '../../../src/index.js';
import { route } from '../../../operators/index.js';

interface Order {
  id: string;
  n: number;
}

/**
 * PENDING: the mount points DESIGN.md ("One runtime, one guarantee model") gives actors and
 * durable batches — stages of a pipeline fed by any source — which are not on main at 794142d
 * (there each runs its own engine on its own stream). The shapes below are assumed; align them
 * with the branch that adds them. Both end their path: their outputs go out exactly once through
 * their own outbox.
 */
interface MountingContext extends TopologyContext {
  actor<S, M, P>(definition: ActorDefinition<S, M, P>): OperatorFunction<Envelope<M>, never>;
  durableBatch<T>(config: { name: string; maxItems: number; flush: (chunk: readonly Envelope<T>[], emit: (subject: string, value: unknown) => void) => void }): OperatorFunction<Envelope<T>, never>;
}

/**
 * One stream read by three pipelines, each taking a third of the inputs (by `n % 3`): route by
 * parity → durable sink (`<out>.even` / `<out>.odd`), a keyed actor counting per `n % 10` and emitting `{ id, n, count }`
 * (`<out>.actor`), and a durable batch of 50 emitting `{ id, n }` per value (`<out>.batch`).
 */
export default function mixedRouteActorBatch(io: { name: string; stream: string; subjects: string; out: string; ackWaitMs: number }) {
  const counter = actor<number, Order>({
    name: 'counter',
    key: (e) => String(e.data.n % 10),
    initial: () => 0,
    handle: (count, msg, ctx) => {
      if (msg.kind !== 'message') return count;
      ctx.emit(`${io.out}.actor`, { id: msg.data.id, n: msg.data.n, count: count + 1 });
      return count + 1;
    },
  });
  return defineTopology(io.name, (t) => {
    const m = t as MountingContext;
    const orders = t.stream<Order>(io.stream, io.subjects, { ackWaitMs: io.ackWaitMs, maxUnsettled: 256 });
    const third = (r: number) => filter((e: Envelope<Order>) => e.data.n % 3 === r);
    return [
      orders.pipe(
        third(0),
        route({ name: 'parity', rules: [{ to: `${io.out}.even`, when: (e) => e.data.n % 2 === 0 }], otherwise: `${io.out}.odd` }),
        t.sink(undefined, { durable: true, name: 'routed' }),
      ),
      orders.pipe(third(1), m.actor(counter)),
      orders.pipe(
        third(2),
        m.durableBatch<Order>({ name: 'nightly', maxItems: 50, flush: (chunk, emit) => chunk.forEach((e) => emit(`${io.out}.batch`, { id: e.data.id, n: e.data.n })) }),
      ),
    ];
  });
}
