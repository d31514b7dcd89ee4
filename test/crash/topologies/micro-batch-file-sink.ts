import { join } from 'node:path';
import { defineTopology, openStateStore, type Envelope, type StateStore } from '../../../src/index.js';
import { fileSink, microBatch } from '../../../operators/index.js';

interface Order {
  id: string;
  n: number;
}

/**
 * Stream → microBatch (50 values or 20 ms, groups recorded in LMDB) → fileSink: each batch one
 * NDJSON file of `{ id, n }` in `<dir>/staged`, named after the recorded group's key, with a
 * manifest. Inputs are acknowledged only after the file, its manifest and the directory are
 * fsynced; a replayed group rewrites the same file name.
 */
export default function microBatchFileSink(io: { name: string; stream: string; subjects: string; ackWaitMs: number; dir: string }) {
  return defineTopology(io.name, (t) => {
    let store: StateStore | undefined;
    t.onStop(() => store?.close());
    return t.stream<Order>(io.stream, io.subjects, { ackWaitMs: io.ackWaitMs, maxUnsettled: 256 }).pipe(
      microBatch<Envelope<Order>>({
        maxCount: 50,
        maxWaitMs: 20,
        scheduler: t.scheduler,
        groups: { store: () => (store ??= openStateStore({ dir: join(io.dir, 'state'), topology: io.name })), name: 'orders', replayWaitMs: 2_000 },
      }),
      fileSink<Envelope<Order>>({ dir: join(io.dir, 'staged'), format: 'ndjson', name: 'orders', record: (e) => ({ id: e.data.id, n: e.data.n }) }),
    );
  });
}
