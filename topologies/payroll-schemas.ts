import { z } from 'zod';

/**
 * The payloads of payroll, defined once: types are inferred from these schemas, entries and
 * period closes are validated at the edge (a bad one goes to the dead letters), and
 * `sluice describe --json` publishes them as JSON Schema. Money is integer cents; time is
 * integer minutes. A pay period is a calendar month, `YYYY-MM`, taken from the entry's date.
 */

const employeeId = z.string().min(1).max(64);
const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date YYYY-MM-DD');

/** In on `payroll.entries.time.<employeeId>` (stream PAYROLL_ENTRIES): minutes worked on a day at an hourly rate. */
export const TimeEntrySchema = z.object({
  type: z.literal('time'),
  entryId: z.string().min(1),
  employeeId,
  date: day,
  minutes: z
    .number()
    .int()
    .positive()
    .max(24 * 60),
  rateCentsPerHour: z.number().int().nonnegative(),
});

/** In on `payroll.entries.expense.<employeeId>` (stream PAYROLL_ENTRIES): an expense to reimburse. */
export const ExpenseSchema = z.object({
  type: z.literal('expense'),
  entryId: z.string().min(1),
  employeeId,
  date: day,
  amountCents: z.number().int().nonnegative(),
});

export const EntrySchema = z.discriminatedUnion('type', [TimeEntrySchema, ExpenseSchema]);

/**
 * In on `payroll.period.closed` (stream PAYROLL_OPS): closes a pay period. With `expected`
 * (entries per employee), an employee's payslip waits until that many of their entries are in;
 * without it, everything before the close in the stream is the period.
 */
export const PeriodClosedSchema = z.object({
  period: z.string().regex(/^\d{4}-\d{2}$/, 'a month YYYY-MM'),
  expected: z.record(z.string(), z.number().int().nonnegative()).optional(),
});

/** Out on `payroll.payslips` (stream PAYROLL_OUT): exactly one per employee per pay period. */
export const PayslipSchema = z.object({
  employeeId,
  period: z.string(),
  entries: z.number().int().positive(),
  minutes: z.number().int().nonnegative(),
  hoursCents: z.number().int().nonnegative().describe('sum over time entries of round(minutes × rate / 60)'),
  expensesCents: z.number().int().nonnegative(),
  grossCents: z.number().int().nonnegative().describe('hoursCents + expensesCents'),
});

/**
 * Out on `payroll.review.late` (stream PAYROLL_OUT): an entry that came after its period's
 * payslip, for a person to review (Sluice's late record, msgpack).
 */
export const LateEntrySchema = z.object({
  batch: z.string(),
  subject: z.string(),
  originSubject: z.string().optional(),
  key: z.string().describe('the employee'),
  period: z.string().describe('the pay period it missed'),
  stream: z.string(),
  seq: z.number().int().positive(),
  closedBySeq: z.number().int().positive(),
  headers: z.record(z.string(), z.string()),
  payload: z.instanceof(Uint8Array).describe('the entry as it came (msgpack)'),
  payloadTruncated: z.literal(true).optional(),
});

export type TimeEntry = z.infer<typeof TimeEntrySchema>;
export type Expense = z.infer<typeof ExpenseSchema>;
export type Entry = z.infer<typeof EntrySchema>;
export type PeriodClosed = z.infer<typeof PeriodClosedSchema>;
export type Payslip = z.infer<typeof PayslipSchema>;
export type LateEntry = z.infer<typeof LateEntrySchema>;
