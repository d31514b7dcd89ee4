import { route } from '../../operators/route.js';
import type { OrderEvent } from '../workload.js';
import type { ModeFactory } from './mode.js';
import { orderRouteConfig } from './order-routing.js';
import { runSluiceTopology } from './sluice-topology.js';

/**
 * Real-time the way a topology author writes it: `route` then the runtime's `sink()`, which
 * forwards each routed envelope's original bytes to its target and adds Sluice's headers (event
 * time, key). Compared with `route` (bytes published by the mode itself) it shows what the sink
 * costs.
 */
export const start: ModeFactory = (ctx) =>
  runSluiceTopology(ctx, 'bench-route-sink', (t) => t.source<OrderEvent>(ctx.inSubject).pipe(route(orderRouteConfig(ctx)), t.sink()));
