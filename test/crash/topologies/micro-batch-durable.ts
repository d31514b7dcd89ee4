import { join } from 'node:path';
import { mergeMap } from 'rxjs';
import { defineTopology, openStateStore, type Envelope, type StateStore } from '../../../src/index.js';
import { microBatch, type MicroBatchConfig } from '../../../operators/index.js';

interface Order {
  id: string;
  n: number;
}

/**
 * PENDING (needs the settle-aware microBatch): the option that records each batch's membership in
 * LMDB before its effects, so a replay rebuilds the same batch and its outputs get ids from the
 * batch instead of the position of one input. Its name is not settled; `record` is assumed here.
 */
type RecordingConfig = MicroBatchConfig<Envelope<Order>> & { record?: { store: StateStore; name: string } };

/**
 * Stream → microBatch (50 values or 20 ms) → one `{ id, n, size }` per value → durable sink on
 * `<out>.out`. With `recorded`, the batches are recorded (exactly-once); without, a replay may
 * regroup (at-least-once).
 */
export default function microBatchDurable(io: { name: string; stream: string; subjects: string; out: string; ackWaitMs: number; dir: string; recorded?: boolean }) {
  return defineTopology(io.name, (t) => {
    const config: RecordingConfig = { maxCount: 50, maxWaitMs: 20, scheduler: t.scheduler };
    if (io.recorded === true) {
      const store = openStateStore({ dir: join(io.dir, 'state'), topology: io.name });
      t.onStop(() => store.close());
      config.record = { store, name: 'orders' };
    }
    return t.stream<Order>(io.stream, io.subjects, { ackWaitMs: io.ackWaitMs, maxUnsettled: 256 }).pipe(
      microBatch(config),
      mergeMap((batch) => batch.map((e) => ({ id: e.data.id, n: e.data.n, size: batch.length }))),
      t.sink(`${io.out}.out`, { durable: true, name: 'batched' }),
    );
  });
}
