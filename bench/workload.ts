import { Packr } from 'msgpackr';
import { InvalidConfigError } from '../src/errors.js';
import { mulberry32 } from '../src/testing/mulberry32.js';

/** One order line. */
export interface OrderLine {
  sku: string;
  qty: number;
  /** Unit price, cents. */
  price: number;
}

/**
 * A realistic "order created" event with the short keys services use on hot subjects, so the
 * smallest event is ~100 bytes. `ts` comes first so the driver can stamp and find it at a fixed
 * place in the bytes (see freshness-stamp.ts); `note`, when present, pads the event to its size.
 */
export interface OrderEvent {
  /** Driver clock when published, epoch ms with a fraction (always a float64 on the wire). */
  ts: number;
  id: string;
  cust: string;
  /** ISO country code. */
  cc: string;
  /** Sales channel. */
  ch: 'web' | 'app' | 'pos' | 'mkt';
  express: boolean;
  /** Order total, cents (EUR). */
  total: number;
  lines: OrderLine[];
  note?: string;
}

/** The four outputs of the routing rule every mode applies. */
export const ORDER_TARGETS = ['review', 'express', 'eu', 'row'] as const;
export type OrderTarget = (typeof ORDER_TARGETS)[number];

const EU = new Set(['DE', 'FR', 'NL', 'IE', 'ES', 'IT', 'PL', 'SE']);
const COUNTRIES = ['GB', 'DE', 'FR', 'US', 'NL', 'IE', 'ES', 'IT', 'PL', 'SE', 'CA', 'AU'] as const;
const CHANNELS = ['web', 'app', 'pos', 'mkt'] as const;
/** Orders at or above this total go to manual review first. */
export const REVIEW_THRESHOLD_CENTS = 50_000;

/** Whether an order ships inside the EU (the region split of the routing rule). */
export function isEuCountry(cc: string): boolean {
  return EU.has(cc);
}

/**
 * The routing rule, first match wins: large orders to review, then express orders, then by
 * region. The raw forwarder and every Sluice mode use exactly this function.
 */
export function orderTarget(order: Pick<OrderEvent, 'total' | 'express' | 'cc'>): OrderTarget {
  if (order.total >= REVIEW_THRESHOLD_CENTS) return 'review';
  if (order.express) return 'express';
  return EU.has(order.cc) ? 'eu' : 'row';
}

/** Options for {@link makeOrderPool}. */
export interface WorkloadConfig {
  /** Distinct encoded events to cycle through. Default 4096. */
  poolSize?: number | undefined;
  /** Smallest encoded event, bytes (>= 100). Default 100. */
  minBytes?: number | undefined;
  /** Largest encoded event, bytes (<= 65536). Default 1024. */
  maxBytes?: number | undefined;
  /** PRNG seed, so two runs publish the same bytes. Default 1. */
  seed?: number | undefined;
}

/**
 * The same options as Sluice's wire codec (src/codec/msgpack-codec.ts): standard MessagePack,
 * no record extension, so any consumer can read the events.
 */
export const wirePackr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, variableMapSize: true });

/**
 * Encoded order events with sizes spread uniformly over [minBytes, maxBytes]. Pre-encoding keeps
 * the driver's cost per publish to a copy and a timestamp write, so the processor (not the load
 * generator) is what saturates.
 */
export function makeOrderPool(config: WorkloadConfig = {}): Uint8Array[] {
  const poolSize = config.poolSize ?? 4096;
  const minBytes = config.minBytes ?? 100;
  const maxBytes = config.maxBytes ?? 1024;
  if (!Number.isInteger(poolSize) || poolSize < 1) {
    throw new InvalidConfigError('workload', 'poolSize', `must be an integer >= 1, got ${poolSize}`);
  }
  if (!Number.isInteger(minBytes) || minBytes < 100) {
    throw new InvalidConfigError('workload', 'minBytes', `must be an integer >= 100, got ${minBytes}`);
  }
  if (!Number.isInteger(maxBytes) || maxBytes < minBytes || maxBytes > 65_536) {
    throw new InvalidConfigError('workload', 'maxBytes', `must be an integer in [minBytes, 65536], got ${maxBytes}`);
  }
  const rand = mulberry32(config.seed ?? 1);
  const pool: Uint8Array[] = [];
  for (let i = 0; i < poolSize; i++) {
    const target = minBytes + Math.floor(rand() * (maxBytes - minBytes + 1));
    pool.push(encodeToSize(randomOrder(i, rand), target));
  }
  return pool;
}

function randomOrder(i: number, rand: () => number): OrderEvent {
  const lines: OrderLine[] = [];
  const n = 1 + Math.floor(rand() * 3);
  for (let l = 0; l < n; l++) {
    // Heavy-tailed prices so a few percent of orders cross the review threshold.
    const price = Math.floor(200 + rand() ** 8 * 40_000);
    lines.push({ sku: `S-${Math.floor(rand() * 5000)}`, qty: 1 + Math.floor(rand() * 3), price });
  }
  return {
    ts: 0.5,
    id: `o-${i}`,
    cust: `c-${Math.floor(rand() * 100_000)}`,
    cc: COUNTRIES[Math.floor(rand() * COUNTRIES.length)]!,
    ch: CHANNELS[Math.floor(rand() * CHANNELS.length)]!,
    express: rand() < 0.15,
    total: totalOf(lines),
    lines,
  };
}

function totalOf(lines: readonly OrderLine[]): number {
  return lines.reduce((sum, l) => sum + l.qty * l.price, 0);
}

/**
 * Drops lines until the event fits, then pads `note` to hit `target` bytes (a few bytes over
 * where string headers grow). An order keeps at least one line, so the floor is ~100 bytes.
 */
function encodeToSize(order: OrderEvent, target: number): Uint8Array {
  let bytes = wirePackr.pack(order);
  while (bytes.length > target && order.lines.length > 1) {
    order.lines.pop();
    order.total = totalOf(order.lines);
    bytes = wirePackr.pack(order);
  }
  // "note" plus a string header costs 7 bytes at least: pad only when that fits.
  for (let attempt = 0; attempt < 3 && bytes.length + 7 <= target; attempt++) {
    const current = order.note?.length ?? 0;
    const overhead = order.note === undefined ? 7 : 0;
    order.note = padding(Math.max(0, current + (target - bytes.length) - overhead));
    bytes = wirePackr.pack(order);
  }
  return bytes;
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz ';
function padding(length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += ALPHABET[i % ALPHABET.length]!;
  return s;
}
