import { map } from 'rxjs';
import { defineTopology } from '../../../src/index.js';

interface Order {
  id: string;
  n: number;
}

/** Stream → map → core sink on `<out>.out` (no stream captures it): one `{ id, n }` per input. */
export default function streamCoreSink(io: { name: string; stream: string; subjects: string; out: string; ackWaitMs: number }) {
  return defineTopology(io.name, (t) =>
    t.stream<Order>(io.stream, io.subjects, { ackWaitMs: io.ackWaitMs, maxUnsettled: 256 }).pipe(
      map((e) => ({ id: e.data.id, n: e.data.n })),
      t.sink(`${io.out}.out`),
    ),
  );
}
