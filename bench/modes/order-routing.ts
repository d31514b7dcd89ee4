import type { RouteConfig } from '../../operators/route.js';
import type { Envelope } from '../../src/envelope/envelope.js';
import { isEuCountry, REVIEW_THRESHOLD_CENTS, type OrderEvent } from '../workload.js';
import type { ModeContext } from './mode.js';

/**
 * The routing rule of workload.ts `orderTarget`, written as `route` rules the way a topology
 * author would: first match wins, `otherwise` catches the rest.
 */
export function orderRouteConfig(ctx: ModeContext): RouteConfig<OrderEvent> {
  return {
    name: 'orders',
    rules: [
      { to: ctx.outSubject('review'), when: (e: Envelope<OrderEvent>) => e.data.total >= REVIEW_THRESHOLD_CENTS },
      { to: ctx.outSubject('express'), when: (e: Envelope<OrderEvent>) => e.data.express },
      { to: ctx.outSubject('eu'), when: (e: Envelope<OrderEvent>) => isEuCountry(e.data.cc) },
    ],
    otherwise: ctx.outSubject('row'),
  };
}
