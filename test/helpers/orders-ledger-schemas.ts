import { z } from 'zod';

/**
 * The payloads of the orders-ledger test topology, defined once: the TypeScript types are inferred from these
 * schemas, the order stream is validated against `OrderSchema` at the edge, and
 * `sluice describe --json` publishes all of them as JSON Schema. Amounts are integer cents.
 */

/** In on `shop.orders.>` (stream SHOP_ORDERS). */
export const OrderSchema = z.object({
  orderId: z.string().min(1),
  sku: z.string().min(1),
  quantity: z.number().int().positive(),
  totalCents: z.number().int().nonnegative(),
});

/** In on `ops.end-of-day` (stream OPS): any message closes the day's batch; its payload is not read. */
export const EndOfDaySchema = z.unknown().describe('any payload: the message itself is the trigger');

const stockEvent = { orderId: z.string().min(1), sku: z.string().min(1), quantity: z.number().int().positive(), available: z.number().int() };
/** Out on `shop.stock.reserved` (stream SHOP_STOCK_EVENTS). */
export const ReservedEventSchema = z.object({ type: z.literal('reserved'), ...stockEvent });
/** Out on `shop.stock.rejected` (stream SHOP_STOCK_EVENTS). */
export const RejectedEventSchema = z.object({ type: z.literal('rejected'), ...stockEvent });
export const StockEventSchema = z.discriminatedUnion('type', [ReservedEventSchema, RejectedEventSchema]);

/** Out on `shop.alerts.low-stock` (core NATS), when a reservation leaves fewer than 3 units. */
export const LowStockSchema = z.object({ sku: z.string().min(1), available: z.number().int() });

/** Out on `analytics.orders.batch` (stream ANALYTICS): one per micro-batch. */
export const OrderBatchSummarySchema = z.object({
  orders: z.number().int().positive(),
  totalCents: z.number().int().nonnegative(),
  firstOrderId: z.string(),
  lastOrderId: z.string(),
});

/** Out on `finance.ledger.daily` (stream FINANCE): the day's orders in chunks. */
export const LedgerChunkSchema = z.object({
  batch: z.number().int().positive().describe("1 for the first day's batch, then 2, 3, ..."),
  from: z.number().int().nonnegative().describe("index of the chunk's first order in the day's batch"),
  lines: z.array(z.object({ orderId: z.string(), totalCents: z.number().int().nonnegative() })),
});

export type Order = z.infer<typeof OrderSchema>;
export type StockEvent = z.infer<typeof StockEventSchema>;
export type LowStock = z.infer<typeof LowStockSchema>;
export type OrderBatchSummary = z.infer<typeof OrderBatchSummarySchema>;
export type LedgerChunk = z.infer<typeof LedgerChunkSchema>;
