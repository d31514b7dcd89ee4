import { map } from 'rxjs';
import { actor, defineTopology, type Envelope } from '../../../src/index.js';

interface Order {
  id: string;
  n: number;
}

/**
 * Stream → map → `t.actor` (the hand-over path: a durable sink into the actor's own stream). The
 * actor is keyed by `n % 10`, holds the last `n` it applied per key and emits `{ id, n, prev }` to
 * `<out>.out`: inputs are published in order of `n`, so per-key order holds across crashes iff,
 * for every key, `prev` is the `n` of that key's previous input (0 first).
 */
export default function actorOrder(io: { name: string; stream: string; subjects: string; out: string; ackWaitMs: number; reReadUnackedWithinMs?: number }) {
  const last = actor<number, Order & { tag: string }>({
    name: 'last',
    key: (e) => String(e.data.n % 10),
    initial: () => 0,
    handle: (prev, msg, ctx) => {
      if (msg.kind !== 'message') return prev;
      ctx.emit(`${io.out}.out`, { id: msg.data.id, n: msg.data.n, prev });
      return msg.data.n;
    },
  });
  return defineTopology(io.name, (t) => {
    const orders = t.stream<Order>(io.stream, io.subjects, { ackWaitMs: io.ackWaitMs, maxUnsettled: 256, reReadUnackedWithinMs: io.reReadUnackedWithinMs });
    return t.actor(last, orders.pipe(map((e): Envelope<Order & { tag: string }> => ({ ...e, data: { ...e.data, tag: `k${e.data.n % 10}` } }))), {
      reportEveryMs: 0,
    });
  });
}
