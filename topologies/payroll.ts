import { defineTopology, msgpackCodec, type PeriodsConfig } from 'sluice';
import { EntrySchema, LateEntrySchema, PayslipSchema, PeriodClosedSchema, type Entry, type Payslip, type PeriodClosed } from './payroll-schemas.js';

/**
 * Payroll as a period batch: time entries and expenses accumulate per employee per pay period
 * (a calendar month) in LMDB; when payroll operations close a period, each employee's payslip is
 * computed once that employee's entries are complete — exactly one payslip per employee per
 * period, whatever crashes in between. An entry that comes after its payslip went out is sent
 * for review instead of being lost or silently paid twice.
 *
 * - Entries are validated at the edge (a bad one goes to the dead letters, nothing stops).
 * - The pay is folded as entries arrive (`tally`), so a payslip never needs the period's entries
 *   in memory; they are still read back in chunks from LMDB when the period flushes.
 * - `sluice describe topologies/payroll.ts` prints the path and its guarantee (exactly-once).
 */
export const SUBJECTS = {
  /** In (stream PAYROLL_ENTRIES): `TimeEntry` on `payroll.entries.time.<employeeId>`, `Expense` on `payroll.entries.expense.<employeeId>`. */
  entries: 'payroll.entries.>',
  /** In (stream PAYROLL_OPS): `PeriodClosed`, names the month it closes and, optionally, the entries expected per employee. */
  periodClosed: 'payroll.period.closed',
  /** Out (stream PAYROLL_OUT): `Payslip`, one per employee per period. */
  payslips: 'payroll.payslips',
  /** Out (stream PAYROLL_OUT): `LateEntry`, an entry for a period whose payslip already went out. */
  review: 'payroll.review.late',
} as const;

export const STREAMS = {
  entries: 'PAYROLL_ENTRIES',
  ops: 'PAYROLL_OPS',
  out: 'PAYROLL_OUT',
} as const;

export type { Entry, Expense, LateEntry, Payslip, PeriodClosed, TimeEntry } from './payroll-schemas.js';

/** The pay so far of one employee in one period, kept beside the group in LMDB. */
type Pay = Omit<Payslip, 'employeeId' | 'period' | 'grossCents'>;

const payOf = (previous: Pay | undefined, e: Entry): Pay => {
  const p = previous ?? { entries: 0, minutes: 0, hoursCents: 0, expensesCents: 0 };
  return e.type === 'time'
    ? { ...p, entries: p.entries + 1, minutes: p.minutes + e.minutes, hoursCents: p.hoursCents + Math.round((e.minutes * e.rateCentsPerHour) / 60) }
    : { ...p, entries: p.entries + 1, expensesCents: p.expensesCents + e.amountCents };
};

const payPeriods: PeriodsConfig<Entry, PeriodClosed, Pay> = {
  keyOf: (e) => e.employeeId,
  // The pay period is the calendar month of the entry's date (a local date: no time zone to apply).
  periodOf: (e) => e.date.slice(0, 7),
  closeOf: (close) => close.period,
  // Complete when the close expects nothing of this employee, or their expected entries are in.
  complete: (group, close) => group.count >= (close.expected?.[group.key] ?? 0),
  tally: payOf,
  lateSubject: SUBJECTS.review,
};

export default defineTopology('payroll', (t) => {
  const entries = t.stream<Entry>(STREAMS.entries, SUBJECTS.entries, { schema: EntrySchema });
  const closes = t.stream<PeriodClosed>(STREAMS.ops, SUBJECTS.periodClosed, { schema: PeriodClosedSchema });

  return t.durableBatch(
    {
      name: 'payslips',
      periods: payPeriods,
      emits: {
        stream: STREAMS.out,
        subjects: [SUBJECTS.payslips, SUBJECTS.review],
        schemas: { [SUBJECTS.payslips]: PayslipSchema, [SUBJECTS.review]: LateEntrySchema },
      },
      // The entries themselves are not needed again (the pay is tallied): one payslip on the group's last chunk.
      flush: (_chunk, emit, info) => {
        if (!info.last) return;
        const pay = info.tally as Pay;
        const payslip: Payslip = { employeeId: info.key!, period: info.period!, ...pay, grossCents: pay.hoursCents + pay.expensesCents };
        emit(SUBJECTS.payslips, msgpackCodec.encode(payslip), { 'Content-Type': msgpackCodec.contentType });
      },
    },
    { values: entries, triggers: closes },
  );
});
