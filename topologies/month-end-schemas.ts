import { z } from 'zod';

/**
 * The payloads of month-end, defined once: the topology validates its input against them and
 * `sluice describe --json` publishes them as JSON Schema. Amounts are integer minor units
 * (pence); timestamps integer epoch milliseconds. Every payload is standard MessagePack.
 */

/** A booked transaction, as the ledger publishes it on `ledger.transactions.<account>`. */
export const TransactionSchema = z
  .object({
    transactionId: z.string().min(1),
    account: z.string().min(1).max(200),
    amountMinor: z.number().int().describe('pence; negative for a debit'),
    currency: z.string().length(3).describe('ISO 4217'),
    bookedAt: z.number().int().describe('epoch milliseconds: decides the month (in Europe/London)'),
  })
  .describe('a booked transaction');

/** Accounting says a month is final: `period` is its London month, `2026-03`. */
export const PeriodFinalSchema = z
  .object({
    period: z
      .string()
      .regex(/^\d{4}-\d{2}$/)
      .describe('yyyy-MM, London time'),
  })
  .describe('a month is final: close it now');

/** What a month's window folds per account. */
export const MonthSumSchema = z.object({
  totalMinor: z.number().int(),
  credits: z.number().int().nonnegative(),
  debits: z.number().int().nonnegative(),
});

/** One account's month, published once on `ledger.month-end.totals` when the month is closed. */
export const MonthTotalSchema = z
  .object({
    type: z.literal('window'),
    window: z.string(),
    kind: z.literal('calendar'),
    key: z.string().describe('the account'),
    start: z.number().describe('the month start, epoch ms (00:00 London time on the 1st)'),
    end: z.number().describe('the next month start, epoch ms'),
    period: z.string().describe('yyyy-MM'),
    count: z.number().int().positive().describe('transactions'),
    value: MonthSumSchema,
    closedBy: z.enum(['event', 'idle', 'close']),
  })
  .describe('an account total for a closed month');

/** A transaction that arrived after its month was closed, published on `ledger.month-end.late`. */
export const LateTransactionSchema = z
  .object({
    type: z.literal('late'),
    window: z.string(),
    key: z.string().describe('the account'),
    subject: z.string(),
    eventTime: z.number().describe('bookedAt'),
    watermark: z.number(),
    missed: z.array(z.object({ start: z.number(), end: z.number() })).describe('the closed month it belongs to'),
    item: TransactionSchema,
  })
  .describe('a transaction booked into a month already closed: not in any total');

export type Transaction = z.infer<typeof TransactionSchema>;
export type PeriodFinal = z.infer<typeof PeriodFinalSchema>;
export type MonthSum = z.infer<typeof MonthSumSchema>;
export type MonthTotal = z.infer<typeof MonthTotalSchema>;
export type LateTransaction = z.infer<typeof LateTransactionSchema>;
