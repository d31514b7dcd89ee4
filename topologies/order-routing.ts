import { interval, tap, type Observable } from 'rxjs';
import { defineTopology, InvalidConfigError, type Topology } from 'sluice';
import { route } from 'sluice/operators';
import { createOrderGenerator } from './order-generator.js';
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
  /** Demo orders generated per second (published on `shop.orders.<channel>`); 0 = none, route external orders only. Default 500. */
  ratePerSec?: number | undefined;
  /** Seed of the order generator. Default 1. */
  seed?: number | undefined;
  /** One-line summary every this many ms; 0 = none. Default 1000. */
  summaryEveryMs?: number | undefined;
}

// Generated orders go out every tick in one synchronous loop, which coalesces socket writes.
const TICK_MS = 50;

/**
 * The order-routing topology. Memory: nothing per order (routing is stateless). Each second it
 * reports a line like
 * `order-routing 3s | in 500/s -> priority 112/s, standard 388/s | dlq 0 | totals in 1500, priority 336, standard 1164`.
 *
 * @throws InvalidConfigError for a negative or non-finite rate, or a negative summary period.
 */
export function createOrderRouting(config: OrderRoutingConfig = {}): Topology {
  const ratePerSec = config.ratePerSec ?? 500;
  const summaryEveryMs = config.summaryEveryMs ?? 1000;
  if (!Number.isFinite(ratePerSec) || ratePerSec < 0) throw new InvalidConfigError('orderRouting', 'ratePerSec', `must be >= 0, got ${ratePerSec}`);
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

    if (ratePerSec > 0) {
      const generator = createOrderGenerator({ seed: config.seed, now: () => t.scheduler.now() });
      const startedAt = t.scheduler.now();
      // At most two ticks' worth per tick: when the machine cannot keep up, the backlog is
      // dropped instead of piling up in the client's write buffer (the rate shown drops instead).
      const maxPerTick = Math.max(1, Math.ceil((ratePerSec * TICK_MS * 2) / 1000));
      let due = 0;
      pipelines.push(
        interval(TICK_MS, t.scheduler).pipe(
          t.untilStopped(),
          tap(() => {
            const target = ((t.scheduler.now() - startedAt) * ratePerSec) / 1000;
            due = Math.max(due, target - maxPerTick);
            for (; due < target; due++) {
              const order = generator.next();
              t.publish(orderSubject(order.channel), order);
            }
          }),
        ),
      );
    }

    if (summaryEveryMs > 0) {
      const startedAt = t.scheduler.now();
      let last = { generated: 0, in: 0, priority: 0, standard: 0, at: startedAt };
      const counts = () => ({
        generated: t.stats.total('published', SUBJECTS.orders),
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
            const generated = ratePerSec > 0 ? `generated ${perSec(now.generated - last.generated)}/s, ` : '';
            t.report(
              `order-routing ${Math.round((now.at - startedAt) / 1000)}s | ${generated}in ${perSec(now.in - last.in)}/s -> ` +
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
        t.report(
          `order-routing done | ${ratePerSec > 0 ? `generated ${end.generated}, ` : ''}in ${end.in}, priority ${end.priority} (${share}%), standard ${end.standard}, dead letters ${t.stats.deadLetters}`,
        );
      });
    }
    return pipelines;
  });
}

/** Reads `ORDER_RATE_PER_SEC`, `ORDER_SEED` and `ORDER_SUMMARY_EVERY_MS` (all optional). */
export function orderRoutingConfigFromEnv(env: Readonly<Record<string, string | undefined>>): OrderRoutingConfig {
  const num = (name: string) => (env[name] !== undefined && env[name] !== '' ? Number(env[name]) : undefined);
  return { ratePerSec: num('ORDER_RATE_PER_SEC'), seed: num('ORDER_SEED'), summaryEveryMs: num('ORDER_SUMMARY_EVERY_MS') };
}

export default createOrderRouting(orderRoutingConfigFromEnv(process.env));
