import { mergeMap } from 'rxjs';
import { defineTopology } from '../../../src/index.js';
import { window } from '../../../operators/index.js';

interface Order {
  id: string;
  n: number;
}

/**
 * Stream → window (tumbling 100 ms of event time per key `n % 7`, the watermark moved on after
 * 50 ms without input) → one `{ id, n, late }` per event of each window or late record → durable
 * sink on `<out>.out`. The windows live in memory: a crash drops the open ones, whose inputs are
 * unacknowledged and come again (at-least-once).
 */
export default function windowDurable(io: { name: string; stream: string; subjects: string; out: string; ackWaitMs: number }) {
  return defineTopology(io.name, (t) =>
    t.stream<Order>(io.stream, io.subjects, { ackWaitMs: io.ackWaitMs, maxUnsettled: 512 }).pipe(
      window({ kind: 'tumbling', sizeMs: 100, keyOf: (e) => String(e.data.n % 7), watermark: { idleAdvanceMs: 50 }, scheduler: t.scheduler }),
      mergeMap((w) =>
        w.type === 'window' ? w.value.map((e) => ({ id: e.data.id, n: e.data.n, late: false })) : [{ id: w.item.data.id, n: w.item.data.n, late: true }],
      ),
      t.sink(`${io.out}.out`, { durable: true, name: 'windowed' }),
    ),
  );
}
