import { z } from 'zod';
import { OrderSchema, type Order } from './order-routing-schemas.js';

/**
 * The payloads of hybrid-orders, defined once: the TypeScript types are inferred from these
 * schemas, every input is validated against its schema at the edge (a mismatch is dead-lettered
 * with the failing field paths), and `sluice describe --json` publishes all of them as JSON
 * Schema. Amounts are integer cents; timestamps integer epoch milliseconds.
 *
 * The order is the shop's one `Order` (order-routing-schemas.ts): both topologies read the same
 * `shop.orders.<channel>` messages, order-routing to route them, hybrid-orders to track them.
 */
export { OrderSchema, type Order };

/** The statuses an order goes through; `placed` comes from the order itself. */
export const ORDER_STATUSES = ['placed', 'paid', 'shipped', 'delivered', 'cancelled'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** In on `shop.order-updates.<status>` (stream SHOP_ORDER_UPDATES): payments, the warehouse and the carrier say what happened to an order. */
export const OrderUpdateSchema = z.object({
  orderId: z.string().min(1),
  status: z.enum(['paid', 'shipped', 'delivered', 'cancelled']),
  at: z.number().int().nonnegative().describe('when it happened, epoch ms'),
  source: z.string().optional().describe("who reported it: 'payments', 'warehouse', 'carrier-file:<name>'"),
});

/** Out on `shop.order-status.<status>` (stream ORDER_STATUS): an order's status changed, once per change. */
export const OrderStatusChangedSchema = z.object({
  orderId: z.string().min(1),
  customerId: z.string().describe("'' when the update came before the order"),
  status: z.enum(ORDER_STATUSES),
  previous: z.enum(['none', ...ORDER_STATUSES]),
  at: z.number().int().nonnegative(),
  source: z.string().describe("who reported it ('shop' for a placed order; an update's `source`, else 'unknown')"),
});

/** Out on `shop.order-status.rejected` (stream ORDER_STATUS): an update that does not follow from the order's status (shipped before paid, anything after delivered). */
export const OrderStatusRejectedSchema = z.object({
  orderId: z.string().min(1),
  status: z.enum(ORDER_STATUSES),
  current: z.enum(['none', ...ORDER_STATUSES]),
  at: z.number().int().nonnegative(),
});

const preferences = {
  marketingEmails: z.boolean().optional(),
  smsAlerts: z.boolean().optional(),
  language: z.string().min(2).max(8).optional().describe('BCP 47, e.g. en-GB'),
};

/** In on `crm.preferences.changed` (stream CRM_PREFERENCES): what a customer changed; fields left out are unchanged. */
export const PreferenceChangeSchema = z.object({
  customerId: z.string().min(1),
  ...preferences,
  changedAt: z.number().int().nonnegative(),
});

/** In on `ops.end-of-day` (stream OPS): closes the day's preference batch before 02:00; its payload is not read. */
export const EndOfDaySchema = z.unknown().describe('any payload: the message itself is the trigger');

/** Out on `ops.end-of-day` (stream OPS): the end of day the 02:00 schedule says, read back like operations' own. */
export const ScheduledEndOfDaySchema = z.object({
  by: z.literal('schedule'),
  scheduledAt: z.number().int().nonnegative().describe('the fire time the schedule named, epoch ms'),
});

/** In on `ops.files.received` (stream OPS): a file has arrived in the inbox directory and can be imported. */
export const FileReceivedSchema = z.object({
  kind: z.literal('carrier-deliveries').describe('what the file holds: NDJSON lines `{ orderId, status, at }`'),
  name: z
    .string()
    .regex(/^[\w][\w.-]*$/)
    .describe('file name inside the inbox directory (no path)'),
});

/** One line of a carrier-deliveries file (NDJSON): an order update (its `source` is set by the import). */
export const CarrierLineSchema = OrderUpdateSchema;

/** Out on `crm.preferences.nightly` (stream CRM_SYNC): one chunk of the night's preference sync, each customer's changes in the chunk merged (later wins). */
export const PreferenceSyncChunkSchema = z.object({
  batch: z.number().int().positive().describe('1 for the first nightly batch, then 2, 3, ...'),
  from: z.number().int().nonnegative().describe("index of the chunk's first change in the batch"),
  changes: z.number().int().nonnegative().describe('changes in this chunk'),
  customers: z.array(z.object({ customerId: z.string().min(1), ...preferences })),
});

/** Out on `analytics.orders.batch` (stream ANALYTICS): one per micro-batch of orders. */
export const OrderBatchSummarySchema = z.object({
  orders: z.number().int().positive(),
  revenueCents: z.record(z.string(), z.number().int().nonnegative()).describe('per currency'),
  byChannel: z.record(z.string(), z.number().int().nonnegative()),
  firstPlacedAt: z.number().int(),
  lastPlacedAt: z.number().int(),
});

export type OrderUpdate = z.infer<typeof OrderUpdateSchema>;
export type OrderStatusChanged = z.infer<typeof OrderStatusChangedSchema>;
export type OrderStatusRejected = z.infer<typeof OrderStatusRejectedSchema>;
export type PreferenceChange = z.infer<typeof PreferenceChangeSchema>;
export type FileReceived = z.infer<typeof FileReceivedSchema>;
export type PreferenceSyncChunk = z.infer<typeof PreferenceSyncChunkSchema>;
export type OrderBatchSummary = z.infer<typeof OrderBatchSummarySchema>;
export type ScheduledEndOfDay = z.infer<typeof ScheduledEndOfDaySchema>;
