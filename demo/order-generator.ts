import { InvalidConfigError } from 'sluice';
import { mulberry32 } from 'sluice/testing';
import { CHANNELS, type Order, type OrderLine } from '../topologies/order-routing-schemas.js';

export { CHANNELS } from '../topologies/order-routing-schemas.js';
export type { Channel, Order, OrderLine, Shipping } from '../topologies/order-routing-schemas.js';

/** Options for {@link createOrderGenerator}. */
export interface OrderGeneratorConfig {
  /** Same seed, same orders. Default 1. */
  seed?: number | undefined;
  /** Distinct customers, ids `C000001`...; a few buy far more often than the rest. Default 5000. */
  customers?: number | undefined;
  /** Clock for `placedAt`, epoch ms. Default `Date.now`. */
  now?: (() => number) | undefined;
}

/** Produces orders one at a time; deterministic for a seed (except `placedAt`, from `now`). */
export interface OrderGenerator {
  next(): Order;
}

const COUNTRIES: ReadonlyArray<readonly [code: string, currency: string, weight: number]> = [
  ['GB', 'GBP', 30],
  ['DE', 'EUR', 20],
  ['FR', 'EUR', 14],
  ['NL', 'EUR', 8],
  ['US', 'USD', 16],
  ['IE', 'EUR', 4],
  ['ES', 'EUR', 5],
  ['SE', 'SEK', 3],
];
const CATALOGUE: ReadonlyArray<readonly [sku: string, priceCents: number]> = [
  ['TEE-BLK-M', 1_999],
  ['TEE-WHT-L', 1_999],
  ['HOOD-GRY-M', 4_999],
  ['JEANS-IND-32', 6_900],
  ['SNEAK-WHT-42', 8_900],
  ['CAP-NAVY', 1_500],
  ['SOCKS-3PK', 899],
  ['JACKET-RAIN-L', 12_900],
  ['BOOTS-LTH-43', 17_900],
  ['WATCH-STEEL', 34_900],
  ['BAG-LTH-TOTE', 22_500],
  ['SCARF-WOOL', 3_400],
];
const CHANNEL_WEIGHTS: readonly number[] = [50, 30, 15, 5];

/**
 * A realistic-looking stream of orders for demos, tests and benchmarks: weighted countries and
 * channels, 1-4 lines from a small catalogue, a long tail of customers, ~15% express shipping,
 * occasional bulk quantities. Pseudo-random (mulberry32), so a seed reproduces the same orders.
 *
 * @throws InvalidConfigError for a non-integer seed or customers < 1.
 */
export function createOrderGenerator(config: OrderGeneratorConfig = {}): OrderGenerator {
  const seed = config.seed ?? 1;
  const customers = config.customers ?? 5000;
  if (!Number.isInteger(seed)) throw new InvalidConfigError('orderGenerator', 'seed', `must be an integer, got ${seed}`);
  if (!Number.isInteger(customers) || customers < 1) {
    throw new InvalidConfigError('orderGenerator', 'customers', `must be an integer >= 1, got ${customers}`);
  }
  const now = config.now ?? Date.now;
  const random = mulberry32(seed);
  const pick = <T>(items: readonly T[], weights?: readonly number[]): T => items[weightedIndex(random, items.length, weights)]!;
  let count = 0;

  return {
    next(): Order {
      count += 1;
      const [country, currency] = pick(
        COUNTRIES,
        COUNTRIES.map((c) => c[2]),
      );
      const lineCount = 1 + Math.floor(random() ** 2 * 4);
      const lines: OrderLine[] = [];
      for (let i = 0; i < lineCount; i++) {
        const [sku, unitPriceCents] = pick(CATALOGUE);
        const bulk = random() < 0.03;
        lines.push({ sku, quantity: bulk ? 10 + Math.floor(random() * 40) : 1 + Math.floor(random() ** 3 * 3), unitPriceCents });
      }
      const shippingRoll = random();
      // Squaring skews towards low ids: a few regulars, a long tail of one-off buyers.
      const customer = 1 + Math.floor(random() ** 2 * customers);
      return {
        orderId: `O${seed}-${String(count).padStart(8, '0')}`,
        customerId: `C${String(customer).padStart(6, '0')}`,
        channel: pick(CHANNELS, CHANNEL_WEIGHTS),
        country,
        currency,
        shipping: shippingRoll < 0.15 ? 'express' : shippingRoll < 0.22 ? 'pickup' : 'standard',
        lines,
        totalCents: lines.reduce((sum, l) => sum + l.quantity * l.unitPriceCents, 0),
        placedAt: now(),
      };
    },
  };
}

function weightedIndex(random: () => number, length: number, weights?: readonly number[]): number {
  if (weights === undefined) return Math.floor(random() * length);
  const total = weights.reduce((a, b) => a + b, 0);
  let roll = random() * total;
  for (let i = 0; i < length; i++) {
    roll -= weights[i] ?? 0;
    if (roll < 0) return i;
  }
  return length - 1;
}
