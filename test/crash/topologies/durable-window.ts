import { defineTopology } from '../../../src/index.js';

interface Order {
  id: string;
  n: number;
}

/**
 * Stream → `t.durableWindow`: tumbling windows of 100 ms of event time per key `n % 4`, event
 * time `10 n` ms — except every 50th input, 300 ms behind, which usually comes after its window
 * closed and is reported late. Each window result (`<out>.window`) lists the ids it folded;
 * each late record (`<out>.late`) carries its input. The last windows close on idle ticks.
 */
export default function durableWindow(io: { name: string; stream: string; subjects: string; out: string; ackWaitMs: number }) {
  return defineTopology(io.name, (t) => {
    t.durableWindow<Order, string[]>(
      {
        name: 'orders',
        kind: 'tumbling',
        sizeMs: 100,
        watermark: { idleAdvanceMs: 300 },
        eventTime: (e) => (e.data.n % 50 === 0 ? e.data.n * 10 - 300 : e.data.n * 10),
        keyOf: (e) => String(e.data.n % 4),
        aggregate: { seed: () => [], add: (ids, e) => [...ids, e.data.id] },
        subject: `${io.out}.window`,
        lateSubject: `${io.out}.late`,
        emits: { stream: `${io.name.toUpperCase()}_OUT`, subjects: [`${io.out}.>`] },
        reportEveryMs: 0,
      },
      { values: t.stream<Order>(io.stream, io.subjects, { ackWaitMs: io.ackWaitMs, maxUnsettled: 256 }) },
    );
  });
}
