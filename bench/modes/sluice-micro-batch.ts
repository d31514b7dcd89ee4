import { tap } from 'rxjs';
import { microBatch } from '../../operators/micro-batch.js';
import type { OrderEvent } from '../workload.js';
import { batchPayloads, routeToBatchItems } from './batch-payload.js';
import type { ModeFactory } from './mode.js';
import { runSluiceTopology } from './sluice-topology.js';

/**
 * Near-real-time: route each event, keep its target and bytes (see batch-payload.ts: a batch
 * holds bytes, not decoded events), `microBatch({ maxCount, maxWaitMs })`, then one message per
 * target per batch.
 */
export const start: ModeFactory = (ctx) => {
  const maxCount = ctx.params['maxCount'] ?? 1000;
  const maxWaitMs = ctx.params['maxWaitMs'] ?? 100;
  return runSluiceTopology(ctx, `bench-micro-batch-${maxWaitMs}`, (t) =>
    t.source<OrderEvent>(ctx.inSubject).pipe(
      routeToBatchItems(t, ctx),
      microBatch({ maxCount, maxWaitMs }),
      tap((batch) => {
        for (const [to, payload] of batchPayloads(batch)) t.transport.publish(to, payload);
      }),
    ),
  );
};
