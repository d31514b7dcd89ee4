import { map, timer } from 'rxjs';
import { defineTopology } from '../../../src/index.js';
import { settleMap } from '../../../operators/index.js';

interface Order {
  id: string;
  n: number;
}

/**
 * Stream → settleMap (async, 0-20 ms random delays, 16 at a time, so results finish out of input
 * order) → durable sink on `<out>.out`, one `{ id, n, square }` per input.
 */
export default function settleMapDurable(io: { name: string; stream: string; subjects: string; out: string; ackWaitMs: number }) {
  return defineTopology(io.name, (t) =>
    t.stream<Order>(io.stream, io.subjects, { ackWaitMs: io.ackWaitMs, maxUnsettled: 256 }).pipe(
      settleMap({
        name: 'square',
        concurrency: 16,
        project: (e) => timer(Math.floor(Math.random() * 20), t.scheduler).pipe(map(() => ({ id: e.data.id, n: e.data.n, square: e.data.n ** 2 }))),
      }),
      t.sink(`${io.out}.out`, { durable: true, name: 'squares' }),
    ),
  );
}
