import { concatMap, EMPTY, filter, finalize, interval, map, tap } from 'rxjs';
import { batchUntil, type BatchTrigger } from '../../operators/batch-until.js';
import { route, type Routed } from '../../operators/route.js';
import type { OrderEvent } from '../workload.js';
import { batchPayloads } from './batch-payload.js';
import type { ModeFactory } from './mode.js';
import { orderRouteConfig } from './order-routing.js';
import { runSluiceTopology } from './sluice-topology.js';

/**
 * Batch: route each event, hold everything in `batchUntil` until the period trigger fires, then
 * read the batch in chunks of 1000 and publish one message per target per chunk.
 */
export const start: ModeFactory = (ctx) => {
  const periodMs = ctx.params['periodMs'] ?? 2000;
  const every: BatchTrigger = (c) => interval(periodMs, c.scheduler).pipe(map(() => 'period'));
  return runSluiceTopology(ctx, 'bench-triggered', (t) =>
    t.source<OrderEvent>(ctx.inSubject).pipe(
      route(orderRouteConfig(ctx)),
      tap((r) => {
        if (r.kind !== 'routed') t.deadLetter(r.envelope, r.error, r.record.operator);
      }),
      filter((r): r is Routed<OrderEvent> => r.kind === 'routed'),
      batchUntil(every, { name: 'orders' }),
      concatMap((batch) =>
        batch
          .processChunks(1000, (chunk) => {
            for (const [to, payload] of batchPayloads(chunk)) t.transport.publish(to, payload);
            return EMPTY;
          })
          .pipe(finalize(() => batch.release())),
      ),
    ),
  );
};
