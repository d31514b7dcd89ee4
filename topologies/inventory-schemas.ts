import { z } from 'zod';

/**
 * The payloads of inventory, defined once: the TypeScript types are inferred from these schemas,
 * each command is checked against its subject's schema before the stock actor sees it, and
 * `sluice describe --json` publishes them as JSON Schema. Quantities are integers; timestamps
 * integer epoch milliseconds.
 */

// Bounded: a SKU is an actor key (a subject token and an LMDB key) and an order id names its
// hold's timer (`hold:<orderId>`, at most 256 bytes), so an unbounded one could never be stored.
const orderId = z.string().min(1).max(64).describe('at most 64 characters');
const sku = z.string().min(1).max(128).describe('at most 128 characters');
const quantity = z.number().int().positive();
const units = z.number().int().describe('units (may be negative when more is held than on hand)');

/** `shop.stock.reserve`: hold units for an order. */
export const ReserveSchema = z.object({ orderId, sku, quantity });
/** `shop.stock.confirm`: the order is paid, held units are sold. */
export const ConfirmSchema = z.object({ orderId, sku });
/** `shop.stock.cancel`: the order is abandoned, held units come back. */
export const CancelSchema = z.object({ orderId, sku });
/** `shop.stock.restock`: units received. */
export const RestockSchema = z.object({ sku, quantity });

/** `shop.stock.reserved`: units held until `expiresAt` unless confirmed. */
export const ReservedSchema = z.object({ orderId, sku, quantity, available: units, expiresAt: z.number().int().describe('epoch milliseconds') });
/** `shop.stock.rejected`: not enough units available. */
export const RejectedSchema = z.object({ orderId, sku, quantity, available: units });
/** `shop.stock.released`: a hold ended without a sale. */
export const ReleasedSchema = z.object({ orderId, sku, quantity, available: units, reason: z.enum(['expired', 'cancelled']) });
/** `shop.stock.sold`: a confirmed hold. */
export const SoldSchema = z.object({ orderId, sku, quantity, onHand: units });
/** `shop.stock.low`: available units dropped below the threshold. */
export const LowStockSchema = z.object({ sku, available: units, threshold: z.number().int().nonnegative() });

/** `shop.stock.query` request: the stock of one SKU. */
export const StockQuerySchema = z.object({ sku });
/** `shop.stock.query` reply: the SKU's committed stock (`available` = `onHand` - `held`). */
export const StockLevelSchema = z.object({
  sku,
  onHand: units,
  held: z.number().int().nonnegative().describe('units held by unconfirmed reservations'),
  holds: z.number().int().nonnegative().describe('how many reservations hold units'),
  available: units,
});
/** `shop.stock.query` reply when the stock actor did not answer in time: no figures rather than stale ones. */
export const StockUnknownSchema = z.object({ sku, unknown: z.enum(['deadline', 'overloaded']) });
/** `shop.stock.query` reply. */
export const StockAnswerSchema = z.union([StockLevelSchema, StockUnknownSchema]);

export type Reserve = z.infer<typeof ReserveSchema>;
export type Confirm = z.infer<typeof ConfirmSchema>;
export type Cancel = z.infer<typeof CancelSchema>;
export type Restock = z.infer<typeof RestockSchema>;
export type StockCommand = Reserve | Confirm | Cancel | Restock;
export type Reserved = z.infer<typeof ReservedSchema>;
export type Rejected = z.infer<typeof RejectedSchema>;
export type Released = z.infer<typeof ReleasedSchema>;
export type Sold = z.infer<typeof SoldSchema>;
export type LowStock = z.infer<typeof LowStockSchema>;
export type StockQuery = z.infer<typeof StockQuerySchema>;
export type StockLevel = z.infer<typeof StockLevelSchema>;
export type StockAnswer = z.infer<typeof StockAnswerSchema>;
