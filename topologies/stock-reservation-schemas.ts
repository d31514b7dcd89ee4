import { z } from 'zod';

/**
 * The payloads of stock-reservation, defined once: the TypeScript types are inferred from these
 * schemas, the topology validates each command against its subject's schema before the actor
 * sees it, and `sluice describe --json` publishes them as JSON Schema. Quantities are integers;
 * timestamps integer epoch milliseconds.
 */

const orderId = z.string().min(1);
const sku = z.string().min(1);
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

export type Reserve = z.infer<typeof ReserveSchema>;
export type Confirm = z.infer<typeof ConfirmSchema>;
export type Cancel = z.infer<typeof CancelSchema>;
export type Restock = z.infer<typeof RestockSchema>;
export type Reserved = z.infer<typeof ReservedSchema>;
export type Rejected = z.infer<typeof RejectedSchema>;
export type Released = z.infer<typeof ReleasedSchema>;
export type Sold = z.infer<typeof SoldSchema>;
export type LowStock = z.infer<typeof LowStockSchema>;
