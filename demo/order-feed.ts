import { interval, tap } from 'rxjs';
import { defineTopology, InvalidConfigError, type Topology } from 'sluice';
import { orderSubject } from '../topologies/order-routing.js';
import { createOrderGenerator } from './order-generator.js';

/** Options for {@link createOrderFeed}. */
export interface OrderFeedConfig {
  /** Orders published per second on `shop.orders.<channel>`. Default 500. */
  ratePerSec?: number | undefined;
  /** Seed of the order generator. Default 1. */
  seed?: number | undefined;
}

// Generated orders go out every tick in one synchronous loop, which coalesces socket writes.
const TICK_MS = 50;

/**
 * A demo driver, run beside order-routing (`sluice run topologies/order-routing.ts
 * demo/order-feed.ts`): publishes generated orders (demo/order-generator.ts) on
 * `shop.orders.<channel>` at a steady rate, core NATS. When the machine cannot keep up, the
 * backlog beyond two ticks is dropped instead of piling up in the client's write buffer. What it
 * published is in `sluice run`'s summary (`order-feed done ... | total ... out <n>`).
 *
 * @throws InvalidConfigError for a negative or non-finite rate.
 */
export function createOrderFeed(config: OrderFeedConfig = {}): Topology {
  const ratePerSec = config.ratePerSec ?? 500;
  if (!Number.isFinite(ratePerSec) || ratePerSec < 0) throw new InvalidConfigError('orderFeed', 'ratePerSec', `must be >= 0, got ${ratePerSec}`);
  return defineTopology('order-feed', (t) => {
    const generator = createOrderGenerator({ seed: config.seed, now: () => t.scheduler.now() });
    const startedAt = t.scheduler.now();
    const maxPerTick = Math.max(1, Math.ceil((ratePerSec * TICK_MS * 2) / 1000));
    let due = 0;
    return interval(TICK_MS, t.scheduler).pipe(
      t.untilStopped(),
      tap(() => {
        const target = ((t.scheduler.now() - startedAt) * ratePerSec) / 1000;
        due = Math.max(due, target - maxPerTick);
        for (; due < target; due++) {
          const order = generator.next();
          t.publish(orderSubject(order.channel), order);
        }
      }),
    );
  });
}

/** Reads `ORDER_RATE_PER_SEC` and `ORDER_SEED` (both optional). */
export function orderFeedConfigFromEnv(env: Readonly<Record<string, string | undefined>>): OrderFeedConfig {
  const num = (name: string) => (env[name] !== undefined && env[name] !== '' ? Number(env[name]) : undefined);
  return { ratePerSec: num('ORDER_RATE_PER_SEC'), seed: num('ORDER_SEED') };
}

export default createOrderFeed(orderFeedConfigFromEnv(process.env));
