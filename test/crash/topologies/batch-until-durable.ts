import { join } from 'node:path';
import { concatMap, finalize } from 'rxjs';
import { defineTopology, openStateStore, type Envelope } from '../../../src/index.js';
import { batchUntil, fileBatchBuffer, lmdbBatchBuffer, onCount, onSchedule, type BatchBuffer } from '../../../operators/index.js';

interface Order {
  id: string;
  n: number;
}

/**
 * Stream → batchUntil (every 100 values, or every second) with a durable buffer — the LMDB one,
 * or with `buffer: 'file'` the file one (the grouping is recorded before its effects) → one
 * `{ id, n, batch }` per value → durable sink on `<out>.out`.
 */
export default function batchUntilDurable(io: {
  name: string;
  stream: string;
  subjects: string;
  out: string;
  ackWaitMs: number;
  dir: string;
  trigger: 'count' | 'schedule';
  buffer?: 'lmdb' | 'file';
}) {
  return defineTopology(io.name, (t) => {
    const store = openStateStore({ dir: join(io.dir, 'state'), topology: io.name });
    t.onStop(() => store.close());
    let buffer: BatchBuffer<Envelope<Order>> = lmdbBatchBuffer<Envelope<Order>>({ store, name: 'orders' });
    if (io.buffer === 'file') {
      const files = fileBatchBuffer<Envelope<Order>>({ dir: join(io.dir, 'batch-orders') });
      t.onStop(() => files.close());
      buffer = files;
    }
    return t.stream<Order>(io.stream, io.subjects, { ackWaitMs: io.ackWaitMs, maxUnsettled: 256 }).pipe(
      batchUntil(io.trigger === 'count' ? onCount(100) : onSchedule('* * * * * *'), {
        name: 'orders',
        buffer,
        scheduler: t.scheduler,
      }),
      concatMap((batch) =>
        batch.processChunks(200, (chunk) => chunk.map((e) => ({ id: e.data.id, n: e.data.n, batch: batch.batchId }))).pipe(finalize(() => batch.release())),
      ),
      t.sink(`${io.out}.out`, { durable: true, name: 'batches' }),
    );
  });
}
