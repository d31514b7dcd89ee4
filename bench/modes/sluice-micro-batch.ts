import { tap } from 'rxjs';
import { decodeBatch } from '../../operators/decode-batch.js';
import { microBatch } from '../../operators/micro-batch.js';
import type { OrderEvent } from '../workload.js';
import { batchPayloads, decodedToBatchItems } from './batch-payload.js';
import type { ModeFactory } from './mode.js';
import { runSluiceTopology } from './sluice-topology.js';

/**
 * Near-real-time: hold each message undecoded (`decode: false`), `microBatch({ maxCount,
 * maxWaitMs })`, decode the batch at once (`decodeBatch`), route each event, then one message per
 * target per batch (see batch-payload.ts).
 */
export const start: ModeFactory = (ctx) => {
  const maxCount = ctx.params['maxCount'] ?? 1000;
  const maxWaitMs = ctx.params['maxWaitMs'] ?? 100;
  return runSluiceTopology(ctx, `bench-micro-batch-${maxWaitMs}`, (t) =>
    t.source(ctx.inSubject, { decode: false }).pipe(
      microBatch({ maxCount, maxWaitMs }),
      decodeBatch<OrderEvent>({ name: 'orders' }),
      decodedToBatchItems(t, ctx),
      tap((batch) => {
        for (const [to, payload] of batchPayloads(batch)) t.transport.publish(to, payload);
      }),
    ),
  );
};
