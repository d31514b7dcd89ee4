import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { msgpackCodec } from '../../src/codec/msgpack-codec.js';
import { describeTopology, formatTopologyDescription } from '../../src/runtime/describe-topology.js';
import { runTopology } from '../../src/runtime/run-topology.js';
import { NatsTransport } from '../../src/transport/nats/nats-transport.js';
import type { Transport } from '../../src/transport/transport.js';
import monthEnd, { STREAMS, SUBJECTS, type LateTransaction, type MonthTotal, type Transaction } from '../../topologies/month-end.js';
import { LateTransactionSchema, MonthTotalSchema } from '../../topologies/month-end-schemas.js';
import { startTestDriver } from '../../src/testing/index.js';
import { useNatsServer } from '../helpers/nats-server.js';
import { readStream } from '../helpers/read-stream.js';
import { until } from '../helpers/until.js';

const server = useNatsServer();
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const count = async (transport: Transport, stream: string) => (await transport.streamState(stream).catch(() => ({ messages: 0 }))).messages;
let nextId = 0;
const book = (transport: Transport, account: string, at: string, amountMinor: number) => {
  const tx: Transaction = { transactionId: `tx-${++nextId}`, account, amountMinor, currency: 'GBP', bookedAt: Date.parse(at) };
  return transport.publishDurable(`ledger.transactions.${account}`, msgpackCodec.encode(tx));
};
const final = (transport: Transport, period: string) => transport.publishDurable(SUBJECTS.periodFinal, msgpackCodec.encode({ period }));

describe('month-end: totals per account and London month, closed once, late bookings reported', () => {
  it('describe states exactly-once for the bookings, the closes and the totals', () => {
    const text = formatTopologyDescription(describeTopology(monthEnd));
    expect(text).toContain(
      'LEDGER_TRANSACTIONS (ledger.transactions.>) -> sluice.window.month-end.monthly-totals.in, sluice.window.month-end.monthly-totals.close  exactly-once',
    );
    expect(text).toContain(
      'LEDGER_PERIODS (ledger.period-final) -> sluice.window.month-end.monthly-totals.in, sluice.window.month-end.monthly-totals.close  exactly-once',
    );
    expect(text).toMatch(
      /schedule:month-close -> sluice\.window\.month-end\.monthly-totals\.in, sluice\.window\.month-end\.monthly-totals\.close {2}exactly-once/,
    );
    expect(text).toContain('durable-window monthly-totals -> ledger.month-end.totals, ledger.month-end.late  exactly-once');
  });

  it('cuts months at London midnight across the DST change, closes March on "period final", reports a late March booking and keeps it out of April', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'sluice-month-end-'));
    dirs.push(stateDir);
    const transport = await NatsTransport.connect({ servers: server().url });
    await transport.ensureStream({ name: STREAMS.transactions, subjects: [SUBJECTS.transactions] });
    await transport.ensureStream({ name: STREAMS.periods, subjects: [SUBJECTS.periodFinal] });
    const start = () =>
      runTopology(monthEnd, { transport, logger: pino({ level: 'silent' }), report: () => undefined, closeTransport: false, service: false, stateDir });

    await book(transport, 'acc-1', '2026-03-10T12:00:00Z', 1000);
    await book(transport, 'acc-1', '2026-03-31T22:30:00Z', 500); // 23:30 BST on 31 March: March
    await book(transport, 'acc-1', '2026-03-31T23:30:00Z', 200); // 00:30 BST on 1 April: April
    await book(transport, 'acc-2', '2026-03-29T00:30:00Z', 50); // before the clocks go forward (01:00 UTC)
    await book(transport, 'acc-2', '2026-03-29T01:30:00Z', 70); // after
    let run = await start();
    await until(async () => (await count(transport, 'SLUICE_WINDOW_month-end_monthly-totals')) === 5, { what: 'five bookings handed over' });
    // A restart before the month is final: the open months are in LMDB.
    await run.stop();
    expect(await count(transport, STREAMS.monthEnd)).toBe(0);
    run = await start();
    await final(transport, '2026-03');
    await until(async () => (await count(transport, STREAMS.monthEnd)) === 2, { what: "March's totals" });
    await book(transport, 'acc-1', '2026-03-31T22:59:00Z', 999); // March, after March closed: late
    await book(transport, 'acc-1', '2026-04-15T09:00:00Z', -300);
    await book(transport, 'acc-2', '2026-04-30T22:59:00Z', 10); // 23:59 BST on 30 April: April
    await final(transport, '2026-04');
    await final(transport, '2026-03'); // again: nothing more
    await until(async () => (await count(transport, STREAMS.monthEnd)) === 5, { what: "the late booking and April's totals" });
    await run.stop();

    const out = (await readStream(transport, STREAMS.monthEnd)).map((m) => ({
      subject: m.subject,
      data: msgpackCodec.decode(m.data) as MonthTotal | LateTransaction,
    }));
    for (const o of out) (o.subject === SUBJECTS.totals ? MonthTotalSchema : LateTransactionSchema).parse(o.data);
    const totals = out.filter((o) => o.subject === SUBJECTS.totals).map((o) => o.data as MonthTotal);
    expect(totals.map((t) => [t.key, t.period, t.value.totalMinor, t.count, t.closedBy])).toEqual([
      ['acc-1', '2026-03', 1500, 2, 'close'],
      ['acc-2', '2026-03', 120, 2, 'close'],
      ['acc-1', '2026-04', -100, 2, 'close'],
      ['acc-2', '2026-04', 10, 1, 'close'],
    ]);
    // March in London is 743 hours (the clocks went forward on the 29th).
    expect((totals[0]!.end - totals[0]!.start) / 3_600_000).toBe(743);
    const late = out.filter((o) => o.subject === SUBJECTS.late).map((o) => o.data as LateTransaction);
    expect(late.map((l) => [l.key, l.item.amountMinor, l.missed])).toEqual([
      ['acc-1', 999, [{ start: Date.parse('2026-03-01T00:00:00Z'), end: Date.parse('2026-03-31T23:00:00Z') }]],
    ]);
    await transport.close();
  });

  it('runs in-process under the test driver, as a user testing a copy would', async () => {
    const driver = await startTestDriver(monthEnd);
    try {
      const tx = (transactionId: string, account: string, at: string, amountMinor: number): Transaction => ({
        transactionId,
        account,
        amountMinor,
        currency: 'GBP',
        bookedAt: Date.parse(at),
      });
      driver.input<Transaction>('ledger.transactions.acc-9').publish(tx('a', 'acc-9', '2026-10-25T00:30:00Z', 40));
      driver.input<Transaction>('ledger.transactions.acc-9').publish(tx('b', 'acc-9', '2026-10-31T23:30:00Z', 2)); // 23:30 GMT: still October
      driver.input('ledger.period-final').publish({ period: '2026-10' });
      const deadline = Date.now() + 20_000;
      const totals: MonthTotal[] = [];
      while (totals.length === 0 && Date.now() < deadline) {
        totals.push(...(await driver.output<MonthTotal>(SUBJECTS.totals).readAll()));
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(totals.map((t) => [t.key, t.period, t.value.totalMinor, (t.end - t.start) / 3_600_000])).toEqual([['acc-9', '2026-10', 42, 745]]);
    } finally {
      await driver.stop();
    }
  }, 30_000);
});
