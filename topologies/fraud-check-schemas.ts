import { z } from 'zod';

/**
 * The payloads of fraud-check, defined once: the TypeScript types are inferred from these
 * schemas, the topology validates requests and activity against them, and
 * `sluice describe --json` publishes them as JSON Schema. Amounts are integer minor units
 * (cents); timestamps integer epoch milliseconds; countries ISO 3166-1 alpha-2 codes.
 */

const paymentId = z.string().min(1).max(200);
const customerId = z.string().min(1).max(200).describe('the key of the customer’s activity state');
const amountCents = z.number().int().nonnegative().describe('minor units');
const deviceId = z.string().min(1).max(200);
const country = z
  .string()
  .regex(/^[A-Z]{2}$/)
  .describe('ISO 3166-1 alpha-2');

/** `fraud.check` (request): may this payment go ahead? */
export const PaymentCheckSchema = z.object({ paymentId, customerId, amountCents, deviceId, country });

/** What made the rules (or the fallback) decide. */
export const ReasonSchema = z.enum(['velocity', 'amount', 'new-device', 'new-country', 'new-customer', 'score', 'deadline', 'overloaded']);

/** `fraud.check` (reply). `by: 'fallback'` (and the `Sluice-Reply-Outcome` header) when the deadline or overload answered. */
export const FraudDecisionSchema = z.object({
  paymentId,
  decision: z.enum(['allow', 'review', 'deny']),
  reasons: z.array(ReasonSchema),
  by: z.enum(['rules', 'score', 'fallback']),
});

/** `fraud.activity.payment` (JetStream, stream FRAUD_ACTIVITY): a payment the customer made. */
export const PaymentSchema = z.object({
  paymentId,
  customerId,
  amountCents,
  deviceId,
  country,
  at: z.number().int().nonnegative().describe('epoch milliseconds'),
});

/** `fraud.score` (request, optional service): a second opinion on a payment the rules would send to review. */
export const ScoreRequestSchema = z.object({ check: PaymentCheckSchema, reasons: z.array(ReasonSchema) });

/** `fraud.score` (reply): the risk of the payment, 0 (fine) to 1 (fraud). */
export const ScoreReplySchema = z.object({ score: z.number().min(0).max(1) });

export type PaymentCheck = z.infer<typeof PaymentCheckSchema>;
export type Reason = z.infer<typeof ReasonSchema>;
export type FraudDecision = z.infer<typeof FraudDecisionSchema>;
export type Payment = z.infer<typeof PaymentSchema>;
export type ScoreRequest = z.infer<typeof ScoreRequestSchema>;
export type ScoreReply = z.infer<typeof ScoreReplySchema>;
