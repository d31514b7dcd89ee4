import { join } from 'node:path';
import { mergeMap } from 'rxjs';
import { defineTopology, openStateStore, type Envelope, type StateStore } from '../../../src/index.js';
import { microBatch, type MicroBatchConfig } from '../../../operators/index.js';

interface Order {
  id: string;
  n: number;
}

/**
 * Stream → microBatch (50 values or 20 ms) → one `{ id, n, size }` per value → durable sink on
 * `<out>.out`. With `recorded`, the batches are recorded (exactly-once); without, a replay may
 * regroup (at-least-once).
 */
export default function microBatchDurable(io: {
  name: string;
  stream: string;
  subjects: string;
  out: string;
  ackWaitMs: number;
  dir: string;
  recorded?: boolean;
}) {
  return defineTopology(io.name, (t) => {
    const config: MicroBatchConfig<Envelope<Order>> = { maxCount: 50, maxWaitMs: 20, scheduler: t.scheduler };
    if (io.recorded === true) {
      // Recorded groups: each batch's members are stored in LMDB before its effects, so a replay
      // rebuilds the same batch and the sink's ids come from the batch.
      let store: StateStore | undefined;
      t.onStop(() => store?.close());
      config.groups = { store: () => (store ??= openStateStore({ dir: join(io.dir, 'state'), topology: io.name })), name: 'orders', replayWaitMs: 2_000 };
    }
    return t.stream<Order>(io.stream, io.subjects, { ackWaitMs: io.ackWaitMs, maxUnsettled: 256 }).pipe(
      microBatch(config),
      mergeMap((batch) => batch.map((e) => ({ id: e.data.id, n: e.data.n, size: batch.length }))),
      t.sink(`${io.out}.out`, { durable: true, name: 'batched' }),
    );
  });
}
