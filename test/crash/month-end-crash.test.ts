import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { msgpackCodec } from '../../src/codec/msgpack-codec.js';
import { NatsTransport } from '../../src/transport/nats/nats-transport.js';
import { calendarPeriodOf } from '../../operators/internal/calendar-period.js';
import { STREAMS, SUBJECTS, TIME_ZONE, type LateTransaction, type MonthTotal, type Transaction } from '../../topologies/month-end.js';
import { useNatsServer } from '../helpers/nats-server.js';
import { readStream } from '../helpers/read-stream.js';
import { crashSeed, mulberry32, spawnCrashChild } from './crash-child.js';
import type { ChildProgress } from './topology-child.js';

/*
 * topologies/month-end.ts under real crashes: the topology file itself runs in a child
 * (topology-child.ts, fixture test/crash/topologies/month-end.ts) over a real nats-server and is
 * SIGKILLed three times at seeded random moments — twice while bookings are handed over and
 * folded, once just after the "period final" messages, while totals are being published — then
 * restarted until every month is closed. Whatever was late in that run (it depends on when the
 * kills came), the business outcome must hold: each booking is in exactly one published total or
 * exactly one late record, each account+month total is published once, and each total equals the
 * sum of that account's bookings in that London month that were not reported late.
 * Reproduce with SLUICE_CRASH_SEED=<seed> (printed).
 */

const server = useNatsServer();
const CHILD = join(import.meta.dirname, 'topology-child.ts');
const FIXTURE = join(import.meta.dirname, 'topologies', 'month-end.ts');
const DAY = 86_400_000;
const MONTH = { unit: 'month', timeZone: TIME_ZONE } as const;

function start(url: string, dir: string) {
  let progress: ChildProgress = { received: 0, published: 0, deadLetters: 0, unsettledOutputs: 0, maxRssBytes: 0 };
  let ready = false;
  const child = spawnCrashChild(CHILD, { url, fixture: FIXTURE, params: { dir } }, (line) => {
    if (line === 'ready') ready = true;
    else if (line.startsWith('p ') || line.startsWith('done ')) progress = JSON.parse(line.slice(line.indexOf(' ') + 1)) as ChildProgress;
  });
  return { ...child, progress: () => progress, ready: child.when(() => ready) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('month-end under real crashes (SIGKILL of the processor)', () => {
  it('every booking in exactly one total or one late record; each account+month total once and right', async () => {
    const seed = crashSeed();
    const rnd = mulberry32(seed);
    const dir = mkdtempSync(join(tmpdir(), 'sluice-month-end-crash-'));
    const transport = await NatsTransport.connect({ servers: server().url });
    const timeline: string[] = [];
    const children: ReturnType<typeof start>[] = [];
    try {
      await transport.ensureStream({ name: STREAMS.transactions, subjects: [SUBJECTS.transactions] });
      await transport.ensureStream({ name: STREAMS.periods, subjects: [SUBJECTS.periodFinal] });
      // 1500 bookings from 20 February to 10 May 2026 (both DST months inside), 7 accounts; every
      // 40th is booked 40 days back, so some come after their month closed.
      const bookings: Transaction[] = [];
      const from = Date.parse('2026-02-20T00:00:00Z');
      for (let i = 1; i <= 1500; i++) {
        const at = from + Math.floor((i / 1500) * 79 * DAY) - (i % 40 === 0 ? 40 * DAY : 0);
        bookings.push({ transactionId: `tx-${i}`, account: `acc-${i % 7}`, amountMinor: (i % 5 === 0 ? -1 : 1) * (i * 7 + 3), currency: 'GBP', bookedAt: at });
      }
      for (const b of bookings) await transport.publishDurable(`ledger.transactions.${b.account}`, msgpackCodec.encode(b), { msgId: b.transactionId });

      const launch = async (ready = true) => {
        const child = start(server().url, dir);
        children.push(child);
        if (ready) await child.ready;
        return child;
      };
      const handedOver = async () => (await transport.streamState('SLUICE_WINDOW_month-end_monthly-totals').catch(() => ({ messages: 0 }))).messages;
      for (let k = 1; k <= 2; k++) {
        // Not waiting for `ready`: a child reads while its window engine starts, so the kill may
        // come mid-start. It may still hand over every booking before its count reaches the
        // target, and the next one then has none left to read: so the kill also comes once all
        // are handed over (the engine is still folding).
        const child = await launch(false);
        const target = 1 + Math.floor(rnd() * 700);
        let watching = true;
        const allHandedOver = (async () => {
          while (watching && (await handedOver()) < bookings.length) await sleep(20);
        })();
        await Promise.race([child.when(() => child.progress().received >= target), allHandedOver]);
        watching = false;
        child.proc.kill('SIGKILL');
        await child.exited;
        timeline.push(`killed after ${child.progress().received} received (target ${target}), ${await handedOver()} handed over`);
      }
      let child = await launch();
      const deadline = Date.now() + 60_000;
      while ((await handedOver()) < bookings.length && Date.now() < deadline) await sleep(100);
      for (const period of ['2026-02', '2026-03', '2026-04', '2026-05'])
        await transport.publishDurable(SUBJECTS.periodFinal, msgpackCodec.encode({ period }), { msgId: `final-${period}` });
      const wait = Math.floor(rnd() * 300);
      await sleep(wait);
      child.proc.kill('SIGKILL');
      await child.exited;
      timeline.push(`killed ${wait} ms after the period-final messages`);
      child = await launch();

      const decoded = async () =>
        (await readStream(transport, STREAMS.monthEnd).catch(() => [])).map((m) => ({
          subject: m.subject,
          data: msgpackCodec.decode(m.data) as MonthTotal | LateTransaction,
        }));
      const accounted = (out: Awaited<ReturnType<typeof decoded>>) =>
        out.reduce((n, o) => n + (o.subject === SUBJECTS.totals ? (o.data as MonthTotal).count : 1), 0);
      let out = await decoded();
      const until = Date.now() + 60_000;
      while (accounted(out) < bookings.length && Date.now() < until) {
        await sleep(200);
        out = await decoded();
      }
      child.proc.kill('SIGTERM');
      const { code } = await child.exited;
      await sleep(300);
      out = await decoded();

      const totals = out.filter((o) => o.subject === SUBJECTS.totals).map((o) => o.data as MonthTotal);
      const late = out.filter((o) => o.subject === SUBJECTS.late).map((o) => o.data as LateTransaction);
      console.log(
        `month-end crash: seed ${seed}; ${bookings.length} bookings; [${timeline.join('; ')}]; ${totals.length} totals, ${late.length} late; last run exit ${code}`,
      );
      expect(code).toBe(0);
      // Each account+month once.
      const months = totals.map((t) => `${t.key} ${t.period}`);
      expect(new Set(months).size).toBe(months.length);
      // Each late booking once, and each booking accounted for exactly once overall.
      const lateIds = late.map((l) => l.item.transactionId);
      expect(new Set(lateIds).size).toBe(lateIds.length);
      expect(accounted(out)).toBe(bookings.length);
      // Each total is its account's bookings in that London month, minus the late ones.
      const expected = new Map<string, { total: number; count: number }>();
      const lateSet = new Set(lateIds);
      for (const b of bookings) {
        if (lateSet.has(b.transactionId)) continue;
        const k = `${b.account} ${calendarPeriodOf(MONTH, b.bookedAt).label}`;
        const e = expected.get(k) ?? { total: 0, count: 0 };
        expected.set(k, { total: e.total + b.amountMinor, count: e.count + 1 });
      }
      expect(new Map(totals.map((t) => [`${t.key} ${t.period}`, { total: t.value.totalMinor, count: t.count }]))).toEqual(expected);
      // A late booking is reported against its own month, never folded into a later one.
      for (const l of late) expect(l.missed).toEqual([{ start: calendarPeriodOf(MONTH, l.eventTime).start, end: calendarPeriodOf(MONTH, l.eventTime).end }]);
    } finally {
      for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
      await transport.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
