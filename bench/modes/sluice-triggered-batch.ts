import { join } from 'node:path';
import { concatMap, EMPTY, finalize, interval, map, of, tap, type Observable } from 'rxjs';
import { decodeBatch } from '../../operators/decode-batch.js';
import { batchUntil, type BatchTrigger } from '../../operators/batch-until.js';
import { fileBatchBuffer } from '../../src/state/file-batch-buffer.js';
import { lmdbBatchBuffer } from '../../src/state/lmdb-batch-buffer.js';
import { openStateStore } from '../../src/state/open-state-store.js';
import type { StateStore } from '../../src/state/types.js';
import type { OrderEvent } from '../workload.js';
import { batchPayloads, decodedToBatchItems, routeToBatchItems, type BatchItem } from './batch-payload.js';
import type { Envelope } from '../../src/envelope/envelope.js';
import type { TopologyContext } from '../../src/runtime/types.js';
import type { ModeContext } from './mode.js';
import type { ModeFactory } from './mode.js';
import { runSluiceTopology } from './sluice-topology.js';

/**
 * Batch: hold each message undecoded (`decode: false`) in `batchUntil` until the period trigger
 * fires, then read the batch in chunks of 1000, decode each chunk at once (`decodeBatch`), route
 * its events and publish one message per target per chunk. Param `lmdb: 1` keeps the batch in an
 * `lmdbBatchBuffer` (one commit per event-loop turn), `file: 1` in a `fileBatchBuffer` (append-only
 * files, one write + fdatasync per event-loop turn), instead of in memory: those two route each event on arrival and hold its
 * target and bytes (see batch-payload.ts), which is what they write, rather than whole envelopes.
 */
export const start: ModeFactory = async (ctx) => {
  const periodMs = ctx.params['periodMs'] ?? 2000;
  const every: BatchTrigger = (c) => interval(periodMs, c.scheduler).pipe(map(() => 'period'));
  const store: StateStore | undefined = ctx.params['lmdb'] === 1 ? openStateStore({ dir: join(ctx.workDir, 'state'), topology: 'bench-triggered' }) : undefined;
  const files = ctx.params['file'] === 1 ? fileBatchBuffer<BatchItem>({ dir: join(ctx.workDir, 'batch') }) : undefined;
  const buffer = store !== undefined ? lmdbBatchBuffer<BatchItem>({ store, name: 'orders' }) : files;
  const running = await runSluiceTopology(
    ctx,
    'bench-triggered',
    (t) =>
      buffer === undefined
        ? t.source(ctx.inSubject, { decode: false }).pipe(
            batchUntil(every, { name: 'orders' }),
            concatMap((batch) => batch.processChunks(1000, (chunk) => publishChunk(t, ctx, chunk)).pipe(finalize(() => batch.release()))),
          )
        : t.source<OrderEvent>(ctx.inSubject).pipe(
            routeToBatchItems(t, ctx),
            batchUntil(every, { name: 'orders', buffer }),
            concatMap((batch) =>
              batch
                .processChunks(1000, (chunk) => {
                  for (const [to, payload] of batchPayloads(chunk)) t.transport.publish(to, payload);
                  return EMPTY;
                })
                .pipe(finalize(() => batch.release())),
            ),
          ),
    () => store?.stats.commits ?? 0,
  );
  return {
    counters: () => running.counters(),
    stop: async () => {
      await running.stop();
      files?.close();
      await store?.close();
    },
  };
};

/** Decodes a chunk of held messages at once, routes its events, publishes one message per target. */
function publishChunk(t: TopologyContext, ctx: ModeContext, chunk: readonly Envelope<Uint8Array>[]): Observable<unknown> {
  return of(chunk).pipe(
    decodeBatch<OrderEvent>({ name: 'orders' }),
    decodedToBatchItems(t, ctx),
    tap((items) => {
      for (const [to, payload] of batchPayloads(items)) t.transport.publish(to, payload);
    }),
  );
}
