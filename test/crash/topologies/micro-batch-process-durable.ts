import { join } from 'node:path';
import { from } from 'rxjs';
import { defineTopology, openStateStore, type StateStore } from '../../../src/index.js';
import { microBatchProcess } from '../../../operators/index.js';

interface Order {
  id: string;
  n: number;
}

/**
 * Stream → microBatchProcess (50 values or 20 ms, groups recorded in LMDB) whose work returns one
 * `{ id, n, batch }` per value → durable sink on `<out>.out`. The recorded group is rebuilt under
 * the same key on a replay, so the sink's ids come from it: exactly-once.
 */
export default function microBatchProcessDurable(io: { name: string; stream: string; subjects: string; out: string; ackWaitMs: number; dir: string }) {
  return defineTopology(io.name, (t) => {
    let store: StateStore | undefined;
    t.onStop(() => store?.close());
    return t.stream<Order>(io.stream, io.subjects, { ackWaitMs: io.ackWaitMs, maxUnsettled: 256 }).pipe(
      microBatchProcess({
        maxCount: 50,
        maxWaitMs: 20,
        maxBufferedCount: 200,
        scheduler: t.scheduler,
        groups: { store: () => (store ??= openStateStore({ dir: join(io.dir, 'state'), topology: io.name })), name: 'orders', replayWaitMs: 2_000 },
        process: (batch, info) => from(batch.map((e) => ({ id: e.data.id, n: e.data.n, batch: info.key }))),
      }),
      t.sink(`${io.out}.out`, { durable: true, name: 'processed' }),
    );
  });
}
