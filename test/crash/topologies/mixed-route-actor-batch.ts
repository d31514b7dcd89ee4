import { filter } from 'rxjs';
import { actor, defineTopology, msgpackCodec, type Envelope } from '../../../src/index.js';
import { route } from '../../../operators/index.js';

interface Order {
  id: string;
  n: number;
}

/**
 * One stream read by three pipelines, each taking a third of the inputs (by `n % 3`): route by
 * parity → durable sink (`<out>.even` / `<out>.odd`), a keyed actor counting per `n % 10` and emitting `{ id, n, count }`
 * (`<out>.actor`), and a durable batch of 50 emitting `{ id, n }` per value (`<out>.batch`). The
 * stream is read once (`t.stream` is shared); the actor and the batch get their thirds through
 * their own streams (`t.actor`, `t.durableBatch`).
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
    const orders = t.stream<Order>(io.stream, io.subjects, { ackWaitMs: io.ackWaitMs, maxUnsettled: 256 });
    const third = (r: number) => filter((e: Envelope<Order>) => e.data.n % 3 === r);
    return [
      orders.pipe(
        third(0),
        route({ name: 'parity', rules: [{ to: `${io.out}.even`, when: (e) => e.data.n % 2 === 0 }], otherwise: `${io.out}.odd` }),
        t.sink(undefined, { durable: true, name: 'routed' }),
      ),
      t.actor(counter, orders.pipe(third(1)), { reportEveryMs: 0 }),
      t.durableBatch(
        {
          name: 'nightly',
          maxItems: 50,
          reportEveryMs: 0,
          flush: (chunk, emit) => {
            for (const r of chunk) {
              const o = msgpackCodec.decode(r.data) as Order;
              emit(`${io.out}.batch`, msgpackCodec.encode({ id: o.id, n: o.n }), { 'Content-Type': msgpackCodec.contentType });
            }
          },
        },
        { values: orders.pipe(third(2)) },
      ),
    ];
  });
}
