import { describe, expect, it } from 'vitest';
import { useNatsServer } from '../helpers/nats-server.js';
import { FRAUD_CUSTOMERS } from './topologies/fraud-activity.js';
import { guaranteeViolations, runCrashRow, type CrashRow } from './topology-crash.js';

/*
 * fraud-check's activity state is exactly-once: the processor (a child running the activity path
 * of topologies/fraud-check.ts, test/crash/topologies/fraud-activity.ts) is SIGKILLed at seeded
 * random moments over a real nats-server and restarted until every payment is applied. Each
 * payment's output carries its customer's state right after it, checked against a reference
 * fold: one payment applied twice, or lost, breaks every later output of its customer.
 * Reproduce with SLUICE_CRASH_SEED=<seed> (printed on the result line).
 */

const server = useNatsServer();

/** The reference: customer `n % K` after input `n` has made the payments `n, n-K, n-2K, ... >= 1`, each of `m` cents. */
function reference(n: number): { payments: number; totalCents: number } {
  let payments = 0;
  let totalCents = 0;
  for (let m = n; m >= 1; m -= FRAUD_CUSTOMERS) {
    payments++;
    totalCents += m;
  }
  return { payments, totalCents };
}

export const FRAUD_ACTIVITY_ROW: CrashRow = {
  title: 'fraud-check: payments stream → t.actor (customer activity state)',
  fixture: 'fraud-activity.ts',
  guarantee: 'exactly-once',
  // The actor's output ids derive from its own input stream, not the source's positions.
  msgIds: 'group',
  complete: 'outputs',
  inputs: 1500,
  kills: 3,
  payloadOk: (data, n) => {
    const got = data as { payments?: unknown; totalCents?: unknown };
    const want = reference(n);
    return got.payments === want.payments && got.totalCents === want.totalCents;
  },
};

describe('fraud-check activity state under real crashes (SIGKILL of the processor)', () => {
  it(
    FRAUD_ACTIVITY_ROW.title,
    async () => {
      expect(guaranteeViolations(await runCrashRow(server(), FRAUD_ACTIVITY_ROW))).toEqual([]);
    },
    120_000,
  );
});
