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
import payroll, { STREAMS, SUBJECTS, type Entry, type LateEntry, type Payslip, type PeriodClosed } from '../../topologies/payroll.js';
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
const BATCH_STREAM = 'SLUICE_BATCH_payroll_payslips';

let n = 0;
const time = (employeeId: string, date: string, minutes: number, rateCentsPerHour: number): Entry => ({
  type: 'time',
  entryId: `t${++n}`,
  employeeId,
  date,
  minutes,
  rateCentsPerHour,
});
const expense = (employeeId: string, date: string, amountCents: number): Entry => ({ type: 'expense', entryId: `x${++n}`, employeeId, date, amountCents });

async function publishEntries(transport: Transport, entries: readonly Entry[]): Promise<void> {
  for (const e of entries) await transport.publishDurable(`payroll.entries.${e.type}.${e.employeeId}`, msgpackCodec.encode(e));
}

describe('payroll: one payslip per employee per pay period, late entries to review', () => {
  it('describe states the period batch, its late subject and the exactly-once path', () => {
    const text = formatTopologyDescription(describeTopology(payroll));
    expect(text).toContain('durable-batch payslips -> payroll.payslips, payroll.review.late  exactly-once');
    expect(text).toContain(
      "period batch payslips  one batch per key and period; a close flushes its period's groups when the complete rule says so; late values -> payroll.review.late  exactly-once",
    );
    expect(text).toContain('PAYROLL_ENTRIES (payroll.entries.>) -> sluice.batch.payroll.payslips.in, sluice.batch.payroll.payslips.trigger  exactly-once');
  });

  it('pays hours × rate + expenses in integer cents when each employee is complete, and sends entries after the payslip to review', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'sluice-payroll-'));
    dirs.push(stateDir);
    const transport = await NatsTransport.connect({ servers: server().url });
    await transport.ensureStream({ name: STREAMS.entries, subjects: [SUBJECTS.entries] });
    await transport.ensureStream({ name: STREAMS.ops, subjects: [SUBJECTS.periodClosed] });
    const run = await runTopology(payroll, {
      transport,
      logger: pino({ level: 'silent' }),
      report: () => undefined,
      closeTransport: false,
      service: false,
      stateDir,
    });

    // November: ann complete before the close, bob complete, cy has 1 of 2 expected; ann starts December.
    await publishEntries(transport, [
      time('ann', '2026-11-02', 480, 3000),
      time('ann', '2026-11-03', 450, 3000),
      expense('ann', '2026-11-03', 1234),
      time('ann', '2026-11-04', 7, 3001),
      time('bob', '2026-11-02', 60, 2500),
      time('bob', '2026-11-30', 90, 2500),
      time('cy', '2026-11-10', 100, 1999),
      time('ann', '2026-12-01', 60, 3000),
    ]);
    await transport.publishDurable('payroll.entries.time.dan', msgpackCodec.encode({ type: 'time', employeeId: 'dan', minutes: -5 })); // invalid: dead letter
    await until(async () => (await count(transport, BATCH_STREAM)) === 8);
    const close: PeriodClosed = { period: '2026-11', expected: { ann: 4, bob: 2, cy: 2 } };
    await transport.publishDurable(SUBJECTS.periodClosed, msgpackCodec.encode(close));
    await until(async () => (await count(transport, STREAMS.out)) === 2);
    // cy waits, visibly: the part's stats (as `sluice stats` shows them) name the waiting period.
    const part = run.stats.parts().find((p) => p.name === 'durable-batch payslips');
    expect(part?.read().detail).toMatchObject({ waitingGroups: 1, 'waiting:2026-11': 1, openGroups: 1 });

    // cy's second entry completes her; ann's entry after her payslip goes to review.
    await publishEntries(transport, [time('cy', '2026-11-28', 30, 1999), expense('ann', '2026-11-29', 500)]);
    await until(async () => (await count(transport, STREAMS.out)) === 4);
    await run.stop();

    const out = await readStream(transport, STREAMS.out);
    const payslips = out.filter((m) => m.subject === SUBJECTS.payslips).map((m) => msgpackCodec.decode(m.data) as Payslip);
    expect(payslips.sort((a, b) => a.employeeId.localeCompare(b.employeeId))).toEqual([
      // 480 + 450 min at 30.00/h = 46500; 7 min at 30.01/h = round(350.1166) = 350; + 1234 expenses
      { employeeId: 'ann', period: '2026-11', entries: 4, minutes: 937, hoursCents: 46850, expensesCents: 1234, grossCents: 48084 },
      { employeeId: 'bob', period: '2026-11', entries: 2, minutes: 150, hoursCents: 6250, expensesCents: 0, grossCents: 6250 },
      // round(100 × 1999 / 60) = 3332 and round(30 × 1999 / 60) = 1000 (999.5 rounds up)
      { employeeId: 'cy', period: '2026-11', entries: 2, minutes: 130, hoursCents: 4332, expensesCents: 0, grossCents: 4332 },
    ]);
    const review = out.filter((m) => m.subject === SUBJECTS.review).map((m) => msgpackCodec.decode(m.data) as LateEntry);
    expect(review).toHaveLength(1);
    expect(review[0]).toMatchObject({ key: 'ann', period: '2026-11', stream: BATCH_STREAM, originSubject: 'payroll.entries.expense.ann', batch: 'payslips' });
    expect(msgpackCodec.decode(review[0]!.payload)).toMatchObject({ type: 'expense', employeeId: 'ann', amountCents: 500 });
    expect(await count(transport, 'SLUICE_DLQ_payroll')).toBe(1);
    await transport.close();
  }, 60_000);
});

describe('payroll in the test driver (in-process transport, no broker)', () => {
  it('pays each employee once the period closes', async () => {
    const driver = await startTestDriver(payroll);
    try {
      const entries = [time('ann', '2026-11-02', 60, 3000), expense('ann', '2026-11-05', 99), time('bob', '2026-11-03', 30, 2000)];
      for (const e of entries) driver.input<Entry>(`payroll.entries.${e.type}.${e.employeeId}`).publish(e);
      // The close goes in only once the entries are in the batch's stream: with two input streams, arrival order is the order.
      const deadline = Date.now() + 20_000;
      while ((await count(driver.transport, BATCH_STREAM)) < entries.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      driver.input<PeriodClosed>(SUBJECTS.periodClosed).publish({ period: '2026-11' });
      const payslips: Payslip[] = [];
      while (payslips.length < 2 && Date.now() < deadline) {
        payslips.push(...(await driver.output<Payslip>(SUBJECTS.payslips).readAll()));
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(payslips.map((p) => `${p.employeeId} ${p.grossCents}`).sort()).toEqual(['ann 3099', 'bob 1000']);
    } finally {
      await driver.stop();
    }
  }, 30_000);
});
