import { map } from 'rxjs';
import { isDeadLettered } from '../../src/dead-letter/dead-letter-record.js';
import { route } from '../../operators/route.js';
import type { Envelope } from '../../src/envelope/envelope.js';
import type { OrderEvent } from '../workload.js';
import type { ModeFactory } from './mode.js';
import { orderRouteConfig } from './order-routing.js';
import { runSluiceTopology } from './sluice-topology.js';

/**
 * Real-time through the runtime's `sink`: each routed envelope is re-encoded and published with
 * Sluice's headers (Content-Type, event time). Costs more than forwarding bytes; shows how much.
 */
export const start: ModeFactory = (ctx) =>
  runSluiceTopology(ctx, 'bench-route-sink', (t) =>
    t.source<OrderEvent>(ctx.inSubject).pipe(
      route(orderRouteConfig(ctx)),
      map((r) => (r.kind === 'routed' ? ({ ...r.envelope, subject: r.to } satisfies Envelope<OrderEvent>) : r)),
      t.sink((v) => (isDeadLettered(v) ? t.deadLetterSubject : v.subject)),
    ),
  );
