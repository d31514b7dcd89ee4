import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tap, timer } from 'rxjs';
import { defineTopology, InvalidConfigError, type Topology } from 'sluice';
import {
  DEFAULT_INBOX_DIR,
  hybridOrdersConfigFromEnv,
  SUBJECTS,
  type FileReceived,
  type OrderUpdate,
  type PreferenceChange,
} from '../topologies/hybrid-orders.js';
import { mulberry32 } from 'sluice/testing';
import { createOrderGenerator } from './order-generator.js';

/** Options for {@link createHybridOrdersDemo}. */
export interface HybridOrdersDemoConfig {
  /** Orders placed per second. Default 40. */
  ordersPerSec?: number | undefined;
  /** Preference changes per second. Default 4. */
  preferencesPerSec?: number | undefined;
  /** A carrier file arrives this long after the start, then every `everyMs`. Default 6000. */
  fileAfterMs?: number | undefined;
  /** Operations says "end of day" this long after the start, then every `everyMs`. Default 9000. */
  endOfDayAfterMs?: number | undefined;
  /** Period of the file and the end of day. Default 20000. */
  everyMs?: number | undefined;
  /** Where the carrier files are written (the topology's inbox). Default: as hybrid-orders reads it. */
  inboxDir?: string | undefined;
  /** Seed of the orders and of the dice. Default 1. */
  seed?: number | undefined;
}

const TICK_MS = 100;
// A second before the first tick: the topology has created its streams by then (core publishes to a subject no stream captures are lost).
const START_MS = 1_000;

/**
 * The demo driver `npm start` runs beside hybrid-orders (`sluice run topologies/hybrid-orders.ts
 * demo/hybrid-orders-demo.ts`), publishing what the shop, payments, the warehouse, the CRM, the
 * carrier and operations would, so every part of the topology has work within seconds:
 *
 * - orders (demo/order-generator.ts) on `shop.orders.<channel>`;
 * - a second later, `paid` for most of them (`cancelled` for 5%), `shipped` two seconds after
 *   payment, and for some cancelled orders a confused `shipped` (the actor rejects it);
 * - preference changes on `crm.preferences.changed`;
 * - at `fileAfterMs`: a carrier file of deliveries for the shipped orders (plus one bad line) in
 *   the inbox, announced on `ops.files.received`;
 * - at `endOfDayAfterMs`: `ops.end-of-day`, so the night's preference batch syncs now rather
 *   than at 02:00.
 *
 * Core publishes (the topology's streams capture them). Reports a line for each file and end of day.
 *
 * @throws InvalidConfigError for a negative or non-finite rate or period.
 */
export function createHybridOrdersDemo(config: HybridOrdersDemoConfig = {}): Topology {
  const ordersPerSec = positive('ordersPerSec', config.ordersPerSec ?? 40);
  const preferencesPerSec = positive('preferencesPerSec', config.preferencesPerSec ?? 4);
  const fileAfterMs = positive('fileAfterMs', config.fileAfterMs ?? 6_000);
  const endOfDayAfterMs = positive('endOfDayAfterMs', config.endOfDayAfterMs ?? 9_000);
  const everyMs = positive('everyMs', config.everyMs ?? 20_000);
  const inboxDir = config.inboxDir ?? DEFAULT_INBOX_DIR;

  return defineTopology('hybrid-orders-demo', (t) => {
    const orders = createOrderGenerator({ seed: config.seed, now: () => t.scheduler.now() });
    const dice = mulberry32((config.seed ?? 1) ^ 0x5eed);
    const startedAt = t.scheduler.now();
    const placed: Array<{ orderId: string; at: number }> = [];
    const paid: Array<{ orderId: string; at: number }> = [];
    const cancelled: string[] = [];
    let shipped: string[] = [];
    const due = { orders: 0, preferences: 0 };
    let next = { file: fileAfterMs, endOfDay: endOfDayAfterMs };
    let files = 0;
    const say = (orderId: string, status: OrderUpdate['status'], source: string) =>
      t.publish(`shop.order-updates.${status}`, { orderId, status, at: t.scheduler.now(), source } satisfies OrderUpdate);

    const tick = (): void => {
      const now = t.scheduler.now();
      const elapsed = now - startedAt;
      for (due.orders += (ordersPerSec * TICK_MS) / 1000; due.orders >= 1; due.orders--) {
        const order = orders.next();
        t.publish(`shop.orders.${order.channel}`, order);
        placed.push({ orderId: order.orderId, at: now });
      }
      while (placed.length > 0 && placed[0]!.at <= now - 1_000) {
        const { orderId } = placed.shift()!;
        if (dice() < 0.05) {
          say(orderId, 'cancelled', 'payments');
          if (dice() < 0.3) cancelled.push(orderId);
        } else {
          say(orderId, 'paid', 'payments');
          paid.push({ orderId, at: now });
        }
      }
      while (paid.length > 0 && paid[0]!.at <= now - 2_000) {
        const { orderId } = paid.shift()!;
        say(orderId, 'shipped', 'warehouse');
        shipped.push(orderId);
      }
      for (const orderId of cancelled.splice(0)) say(orderId, 'shipped', 'warehouse');
      for (due.preferences += (preferencesPerSec * TICK_MS) / 1000; due.preferences >= 1; due.preferences--) {
        const customerId = `C${String(1 + Math.floor(dice() ** 2 * 5000)).padStart(6, '0')}`;
        const roll = dice();
        const change =
          roll < 0.5 ? { marketingEmails: dice() < 0.5 } : roll < 0.8 ? { smsAlerts: dice() < 0.5 } : { language: dice() < 0.5 ? 'en-GB' : 'de-DE' };
        t.publish(SUBJECTS.preferences, { customerId, ...change, changedAt: now } satisfies PreferenceChange);
      }
      if (elapsed >= next.file) {
        next = { ...next, file: next.file + everyMs };
        const name = `deliveries-${String(++files).padStart(4, '0')}.ndjson`;
        const lines = shipped.map((orderId) => JSON.stringify({ orderId, status: 'delivered', at: now } satisfies OrderUpdate));
        lines.splice(Math.floor(lines.length / 2), 0, '{"orderId": "?", "status": "misdelivered"}'); // the carrier's bad line: dead-lettered
        // Written under a temporary name and renamed, so the import never reads half a file.
        mkdirSync(inboxDir, { recursive: true });
        writeFileSync(join(inboxDir, `.${name}.tmp`), `${lines.join('\n')}\n`);
        renameSync(join(inboxDir, `.${name}.tmp`), join(inboxDir, name));
        t.publish(SUBJECTS.fileReceived, { kind: 'carrier-deliveries', name } satisfies FileReceived);
        t.report(`hybrid-orders-demo ${Math.round(elapsed / 1000)}s | carrier file ${name} received: ${shipped.length} deliveries and 1 bad line`);
        shipped = [];
      }
      if (elapsed >= next.endOfDay) {
        next = { ...next, endOfDay: next.endOfDay + everyMs };
        t.publish(SUBJECTS.endOfDay, { by: 'operations' });
        t.report(`hybrid-orders-demo ${Math.round(elapsed / 1000)}s | operations says end of day: the preference batch syncs now`);
      }
    };
    return timer(START_MS, TICK_MS, t.scheduler).pipe(t.untilStopped(), tap(tick));
  });
}

function positive(field: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new InvalidConfigError('hybridOrdersDemo', field, `must be a number >= 0, got ${value}`);
  return value;
}

export default createHybridOrdersDemo({ inboxDir: hybridOrdersConfigFromEnv(process.env).inboxDir });
