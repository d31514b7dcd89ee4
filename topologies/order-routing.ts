import { defineTopology } from 'sluice';
import { route } from 'sluice/operators';
import { OrderSchema, type Channel, type Order } from './order-routing-schemas.js';

/**
 * Real-time order routing: orders placed on any channel are routed by content, as they arrive,
 * to the priority or the standard fulfilment queue.
 *
 * Input `shop.orders.<channel>` (msgpack or JSON `Order`, see order-routing-schemas.ts);
 * outputs `shop.fulfilment.priority` (express shipping, or a total of 500.00 or more) and
 * `shop.fulfilment.standard` (the rest), each carrying the order unchanged. A message that does
 * not match `OrderSchema` goes to `sluice.dlq.order-routing` (PayloadSchemaError, naming the
 * failing fields). Core NATS throughout: at-most-once, lowest latency.
 */
export const SUBJECTS = {
  orders: 'shop.orders.*',
  priority: 'shop.fulfilment.priority',
  standard: 'shop.fulfilment.standard',
} as const;

/** Orders at or above this total (in minor units) are priority. */
export const HIGH_VALUE_CENTS = 50_000;

/** The subject an order placed on `channel` is published to. */
export const orderSubject = (channel: Channel): string => `shop.orders.${channel}`;

/** Express shipping or a high total: the order goes to the priority fulfilment queue. */
export function isPriority(order: Order): boolean {
  return order.shipping === 'express' || order.totalCents >= HIGH_VALUE_CENTS;
}

/**
 * The order-routing topology. Memory: nothing per order (routing is stateless). `sluice run`
 * shows what it routes: with `--summary-every-ms`, and once at the end, a line per part and the
 * messages out on each fulfilment subject. For a demo, run it with the order feed:
 * `sluice run topologies/order-routing.ts demo/order-feed.ts`.
 */
export default defineTopology('order-routing', (t) =>
  // What is not an Order is dead-lettered by the source, with the failing field paths.
  t.source<Order>(SUBJECTS.orders, { queue: 'order-routing', schema: OrderSchema }).pipe(
    route<Order>({
      name: 'orders',
      rules: [{ to: SUBJECTS.priority, when: (e) => isPriority(e.data) }],
      otherwise: SUBJECTS.standard,
      scheduler: t.scheduler,
    }),
    // Routed orders go out byte for byte as they arrived; a failing rule's dead letter is stored.
    t.sink(undefined, { name: 'fulfilment', subjects: [SUBJECTS.priority, SUBJECTS.standard], schema: OrderSchema }),
  ),
);
