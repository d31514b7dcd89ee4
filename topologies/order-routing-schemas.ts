import { z } from 'zod';

/**
 * The payloads of order-routing (and of the order generator), defined once: the TypeScript types
 * are inferred from these schemas, the topology validates its input against them, and
 * `sluice describe --json` publishes them as JSON Schema. Amounts are integer minor units
 * (cents); timestamps integer epoch milliseconds.
 */

/** Where an order was placed; the generator publishes each on `shop.orders.<channel>`. */
export const CHANNELS = ['web', 'mobile', 'marketplace', 'store'] as const;

export const ShippingSchema = z.enum(['standard', 'express', 'pickup']);

export const OrderLineSchema = z.object({
  sku: z.string().min(1),
  quantity: z.number().int().positive(),
  unitPriceCents: z.number().int().nonnegative(),
});

/** A placed order, as a shop front-end publishes it on `shop.orders.<channel>`. */
export const OrderSchema = z
  .object({
    orderId: z.string().min(1),
    customerId: z.string().min(1),
    channel: z.enum(CHANNELS),
    country: z.string().length(2).describe('ISO 3166-1 alpha-2'),
    currency: z.string().length(3).describe('ISO 4217'),
    shipping: ShippingSchema,
    lines: z.array(OrderLineSchema).min(1),
    totalCents: z.number().int().nonnegative(),
    placedAt: z.number().int().describe('epoch milliseconds'),
  })
  .describe('a placed order');

export type Channel = (typeof CHANNELS)[number];
export type Shipping = z.infer<typeof ShippingSchema>;
export type OrderLine = z.infer<typeof OrderLineSchema>;
export type Order = z.infer<typeof OrderSchema>;
