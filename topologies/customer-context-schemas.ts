import { z } from 'zod';

/**
 * The payloads of customer-context, defined once: the TypeScript types are inferred from these
 * schemas, the topology validates each input and request against them at the edge, and
 * `sluice describe --json` publishes them as JSON Schema. Amounts are integer minor units
 * (cents, one currency); timestamps integer epoch milliseconds.
 */

/** At most 256 characters: a customer id is an actor key (and a subject token when addressed). */
const customerId = z.string().min(1).max(256);
const id = z.string().min(1).max(256);
const cents = z.number().int().nonnegative();
const epochMs = z.number().int().nonnegative().describe('epoch milliseconds');

/** In on `sales.orders` (stream SALES_ORDERS): an order was placed. */
export const OrderPlacedSchema = z.object({ orderId: id, customerId, totalCents: cents, placedAt: epochMs }).describe('an order placed by the customer');

/** A support ticket's status. */
export const TicketStatusSchema = z.enum(['open', 'pending', 'closed']);

/** In on `support.tickets` (stream SUPPORT_TICKETS): a ticket was opened or changed status; the message carries its status now. */
export const TicketUpdatedSchema = z
  .object({ ticketId: id, customerId, status: TicketStatusSchema, topic: z.string().max(200), updatedAt: epochMs })
  .describe("a support ticket's new status");

/** In on `billing.payments` (stream BILLING_PAYMENTS): a payment was captured, refunded or failed. */
export const PaymentSchema = z
  .object({ paymentId: id, customerId, amountCents: cents, status: z.enum(['captured', 'refunded', 'failed']), at: epochMs })
  .describe("a payment on the customer's account");

/** Request on `customer.context.get` (core request/reply). */
export const ContextRequestSchema = z.object({ customerId }).describe("asks for one customer's context");

const lastAt = epochMs.nullable().describe('the latest event time seen, epoch milliseconds; null before the first');

/** Reply on `customer.context.get`: the customer's view (empty for a customer never seen: `version` 0). */
export const CustomerContextSchema = z
  .object({
    customerId,
    version: z.number().int().nonnegative().describe('inputs applied to this view (orders + ticket updates + payments); 0 for a customer never seen'),
    lastSeenAt: lastAt,
    orders: z.object({
      count: z.number().int().nonnegative(),
      totalCents: cents,
      lastAt,
      recent: z
        .array(z.object({ orderId: id, totalCents: cents, placedAt: epochMs }))
        .describe('the last orders received, newest first, at most `recentLimit`'),
    }),
    tickets: z.object({
      updates: z.number().int().nonnegative().describe('ticket messages received'),
      open: z.number().int().nonnegative().describe("tickets in `recent` whose status is not 'closed'"),
      lastAt,
      recent: z
        .array(z.object({ ticketId: id, status: TicketStatusSchema, topic: z.string(), updatedAt: epochMs }))
        .describe('the tickets most recently updated, each once with its latest status, newest first, at most `recentLimit`'),
    }),
    payments: z.object({
      count: z.number().int().nonnegative(),
      capturedCents: cents,
      refundedCents: cents,
      failed: z.number().int().nonnegative(),
      lastAt,
      recent: z
        .array(z.object({ paymentId: id, amountCents: cents, status: z.enum(['captured', 'refunded', 'failed']), at: epochMs }))
        .describe('the last payments received, newest first, at most `recentLimit`'),
    }),
    outstandingCents: z.number().int().describe('orders.totalCents - payments.capturedCents + payments.refundedCents (negative: in credit)'),
  })
  .describe("one customer's recent orders, tickets and payments");

/** Out on `customer.context.changed` (stream CUSTOMER_CONTEXT): one per input applied, exactly once. */
export const ContextChangedSchema = z
  .object({
    customerId,
    version: z.number().int().positive().describe("the view's version after this input: 1, 2, 3... per customer, no gaps"),
    cause: z.object({ kind: z.enum(['order', 'ticket', 'payment']), id: id.describe('orderId, ticketId or paymentId') }),
    lastSeenAt: epochMs,
  })
  .describe("a customer's context changed");

export type OrderPlaced = z.infer<typeof OrderPlacedSchema>;
export type TicketStatus = z.infer<typeof TicketStatusSchema>;
export type TicketUpdated = z.infer<typeof TicketUpdatedSchema>;
export type Payment = z.infer<typeof PaymentSchema>;
export type ContextRequest = z.infer<typeof ContextRequestSchema>;
export type CustomerContext = z.infer<typeof CustomerContextSchema>;
export type ContextChanged = z.infer<typeof ContextChangedSchema>;
