import { map } from 'rxjs';
import { defineTopology } from 'sluice';
import { calendarPeriodOf } from 'sluice/operators';
import {
  LateTransactionSchema,
  MonthTotalSchema,
  PeriodFinalSchema,
  TransactionSchema,
  type MonthSum,
  type PeriodFinal,
  type Transaction,
} from './month-end-schemas.js';

/**
 * Month-end totals per account, in London time, exactly once:
 *
 * - every booked transaction is folded into its account's month — the calendar month in
 *   Europe/London that holds its `bookedAt`, so a transaction at 00:30 on 1 April (BST) is April's
 *   and one at 23:30 on 31 March is March's, whatever the DST change did to the hours;
 * - a month stays open two days past its end for late bookings, and closes when it is final: at
 *   00:00 on the 3rd (a schedule, London time), or earlier when accounting publishes "period
 *   final" for it; then each account's total is published once, on `ledger.month-end.totals`
 *   (bookings alone close a month only five weeks after the newest, if no close ever comes);
 * - a transaction for a month already closed is not put into the next month: it is published on
 *   `ledger.month-end.late` with the month it missed, for a manual adjustment.
 *
 * The month's sums and the close live in LMDB (`t.durableWindow`), so a crash or a redeploy loses
 * and doubles nothing. `sluice describe topologies/month-end.ts` prints each path's guarantee.
 */
export const SUBJECTS = {
  /** In (stream LEDGER_TRANSACTIONS): `Transaction`, on `ledger.transactions.<account>`. */
  transactions: 'ledger.transactions.>',
  /** In (stream LEDGER_PERIODS): `PeriodFinal`, closes that month now. */
  periodFinal: 'ledger.period-final',
  /** Out (stream LEDGER_MONTH_END): `MonthTotal`, one per account and closed month. */
  totals: 'ledger.month-end.totals',
  /** Out (stream LEDGER_MONTH_END): `LateTransaction`, a booking into a closed month. */
  late: 'ledger.month-end.late',
} as const;

export const STREAMS = {
  transactions: 'LEDGER_TRANSACTIONS',
  periods: 'LEDGER_PERIODS',
  monthEnd: 'LEDGER_MONTH_END',
} as const;

export type { LateTransaction, MonthSum, MonthTotal, PeriodFinal, Transaction } from './month-end-schemas.js';

/** Where months begin and end. */
export const TIME_ZONE = 'Europe/London';
const MONTH = { unit: 'month', timeZone: TIME_ZONE } as const;
/** A month takes bookings until 00:00 on the 3rd of the next (London time). */
const GRACE_MS = 2 * 24 * 3_600_000;
const SAFETY_NET_MS = 35 * 24 * 3_600_000;

export default defineTopology('month-end', (t) => {
  const transactions = t.stream<Transaction>(STREAMS.transactions, SUBJECTS.transactions, { schema: TransactionSchema });

  // When a month is final: 00:00 on the 3rd, London time (catchUp 'all': a close missed while
  // down runs at the next start, with a replay-stable id)...
  const onTheThird = t.schedule('month-close', '0 0 3 * *', { tz: TIME_ZONE, catchUp: 'all' });
  // ...or when accounting says so: the close is the month's end plus the grace, as the schedule's.
  const periodFinal = t.stream<PeriodFinal>(STREAMS.periods, SUBJECTS.periodFinal, { schema: PeriodFinalSchema }).pipe(
    // The 15th at noon UTC is inside the named month in any time zone.
    map((e) => ({ ...e, eventTime: calendarPeriodOf(MONTH, Date.parse(`${e.data.period}-15T12:00:00Z`)).end + GRACE_MS })),
  );

  return t.durableWindow<Transaction, MonthSum>(
    {
      name: 'monthly-totals',
      kind: 'calendar',
      calendar: MONTH,
      eventTime: (e) => e.data.bookedAt,
      keyOf: (e) => e.data.account,
      aggregate: {
        seed: () => ({ totalMinor: 0, credits: 0, debits: 0 }),
        add: (sum, e) => ({
          totalMinor: sum.totalMinor + e.data.amountMinor,
          credits: sum.credits + (e.data.amountMinor >= 0 ? 1 : 0),
          debits: sum.debits + (e.data.amountMinor < 0 ? 1 : 0),
        }),
      },
      allowedLatenessMs: GRACE_MS,
      // Months close on the calendar (above), not because a booking is ahead of the others: the
      // bookings' own clock trails the newest by five weeks, a safety net that closes a month
      // only if no close ever comes.
      watermark: { maxOutOfOrderMs: SAFETY_NET_MS },
      subject: SUBJECTS.totals,
      lateSubject: SUBJECTS.late,
      emits: {
        stream: STREAMS.monthEnd,
        subjects: [SUBJECTS.totals, SUBJECTS.late],
        schemas: { [SUBJECTS.totals]: MonthTotalSchema, [SUBJECTS.late]: LateTransactionSchema },
      },
    },
    { values: transactions, closes: [onTheThird, periodFinal] },
  );
});
