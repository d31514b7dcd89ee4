import { interval, tap, type Observable } from 'rxjs';
import { defineTopology, InvalidConfigError, type Topology } from 'sluice';
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

/** Options for {@link createOrderRouting}. */
export interface OrderRoutingConfig {
  /** One-line summary every this many ms; 0 = none. Default 1000. */
  summaryEveryMs?: number | undefined;
}

/**
 * The order-routing topology. Memory: nothing per order (routing is stateless). Each second it
 * reports a line like
 * `order-routing 3s | in 500/s -> priority 112/s, standard 388/s | dlq 0 | totals in 1500, priority 336, standard 1164`.
 * For a demo, run it with the order feed: `sluice run topologies/order-routing.ts demo/order-feed.ts`.
 *
 * @throws InvalidConfigError for a negative summary period.
 */
export function createOrderRouting(config: OrderRoutingConfig = {}): Topology {
  const summaryEveryMs = config.summaryEveryMs ?? 1000;
  if (!Number.isFinite(summaryEveryMs) || summaryEveryMs < 0) {
    throw new InvalidConfigError('orderRouting', 'summaryEveryMs', `must be >= 0, got ${summaryEveryMs}`);
  }

  return defineTopology('order-routing', (t) => {
    // What is not an Order is dead-lettered by the source, with the failing field paths.
    const routing = t.source<Order>(SUBJECTS.orders, { queue: 'order-routing', schema: OrderSchema }).pipe(
      route<Order>({
        name: 'orders',
        rules: [{ to: SUBJECTS.priority, when: (e) => isPriority(e.data) }],
        otherwise: SUBJECTS.standard,
        scheduler: t.scheduler,
      }),
      // Routed orders go out byte for byte as they arrived; a failing rule's dead letter is stored.
      t.sink(undefined, { subjects: [SUBJECTS.priority, SUBJECTS.standard], schema: OrderSchema }),
    );
    const pipelines: Observable<unknown>[] = [routing];

    if (summaryEveryMs > 0) {
      const startedAt = t.scheduler.now();
      let last = { in: 0, priority: 0, standard: 0, at: startedAt };
      const counts = () => ({
        in: t.stats.total('received', SUBJECTS.orders),
        priority: t.stats.total('published', SUBJECTS.priority),
        standard: t.stats.total('published', SUBJECTS.standard),
        at: t.scheduler.now(),
      });
      pipelines.push(
        interval(summaryEveryMs, t.scheduler).pipe(
          t.untilStopped(),
          tap(() => {
            const now = counts();
            const perSec = (n: number) => Math.round((n * 1000) / Math.max(1, now.at - last.at));
            t.report(
              `order-routing ${Math.round((now.at - startedAt) / 1000)}s | in ${perSec(now.in - last.in)}/s -> ` +
                `priority ${perSec(now.priority - last.priority)}/s, standard ${perSec(now.standard - last.standard)}/s | ` +
                `dlq ${t.stats.deadLetters} | totals in ${now.in}, priority ${now.priority}, standard ${now.standard}`,
            );
            last = now;
          }),
        ),
      );
      t.onStop(() => {
        const end = counts();
        const share = end.in > 0 ? Math.round((end.priority * 100) / end.in) : 0;
        t.report(`order-routing done | in ${end.in}, priority ${end.priority} (${share}%), standard ${end.standard}, dead letters ${t.stats.deadLetters}`);
      });
    }
    return pipelines;
  });
}

/** Reads `ORDER_SUMMARY_EVERY_MS` (optional). */
export function orderRoutingConfigFromEnv(env: Readonly<Record<string, string | undefined>>): OrderRoutingConfig {
  const every = env.ORDER_SUMMARY_EVERY_MS;
  return { summaryEveryMs: every !== undefined && every !== '' ? Number(every) : undefined };
}

export default createOrderRouting(orderRoutingConfigFromEnv(process.env));
