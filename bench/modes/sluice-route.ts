import { tap } from 'rxjs';
import { route } from '../../operators/route.js';
import type { OrderEvent } from '../workload.js';
import type { ModeFactory } from './mode.js';
import { orderRouteConfig } from './order-routing.js';
import { runSluiceTopology } from './sluice-topology.js';

/**
 * Real-time: `route` on every event, forwarding the original bytes to the chosen subject (the
 * route operator's documented pattern) — the same work as the raw forwarder.
 */
export const start: ModeFactory = (ctx) =>
  runSluiceTopology(ctx, 'bench-route', (t) =>
    t.source<OrderEvent>(ctx.inSubject).pipe(
      route(orderRouteConfig(ctx)),
      tap((r) => (r.kind === 'routed' ? t.transport.publish(r.to, r.envelope.raw!) : t.deadLetter(r.envelope, r.error, r.record.operator))),
    ),
  );
