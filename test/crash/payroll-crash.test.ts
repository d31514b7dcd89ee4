import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { msgpackCodec } from '../../src/codec/msgpack-codec.js';
import { NatsTransport } from '../../src/transport/nats/nats-transport.js';
import type { Transport } from '../../src/transport/transport.js';
import { STREAMS, SUBJECTS, type Entry, type LateEntry, type Payslip, type PeriodClosed } from '../../topologies/payroll.js';
import { useNatsServer } from '../helpers/nats-server.js';
import { readStream } from '../helpers/read-stream.js';
import { crashSeed, mulberry32, spawnCrashChild, type CrashChild } from './crash-child.js';
import type { TopologyChildConfig } from './topology-child.js';

/*
 * topologies/payroll.ts under SIGKILLs: a real child process runs the topology over a real
 * nats-server and is killed at seeded random moments — while entries are handed over, while
 * payslips are computed and published, while late entries arrive — and restarted. Then every
 * employee has exactly one payslip per closed period with the model's gross pay, and every late
 * entry is in review exactly once. Reproduce with SLUICE_CRASH_SEED=<seed> (printed).
 */

const server = useNatsServer();
const CHILD = join(import.meta.dirname, 'topology-child.ts');
const FIXTURE = join(import.meta.dirname, 'topologies', 'payroll.ts');
const BATCH_STREAM = 'SLUICE_BATCH_payroll_payslips';
const EMPLOYEES = 30;
const PERIODS = ['2026-10', '2026-11'] as const;
const PER_EMPLOYEE = 8;

const messages = async (t: Transport, stream: string): Promise<number> => (await t.streamState(stream).catch(() => ({ messages: 0 }))).messages;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntil(cond: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return true;
    await sleep(100);
  }
  return false;
}

/** The pay model: hours × rate (rounded per entry) + expenses, per employee|period. */
function grossOf(entries: readonly Entry[]): Map<string, number> {
  const gross = new Map<string, number>();
  for (const e of entries) {
    const k = `${e.employeeId}|${e.date.slice(0, 7)}`;
    gross.set(k, (gross.get(k) ?? 0) + (e.type === 'time' ? Math.round((e.minutes * e.rateCentsPerHour) / 60) : e.amountCents));
  }
  return gross;
}

describe('payroll under real crashes (SIGKILL of the processor)', () => {
  it('exactly one payslip per employee per period, with the right gross pay, and each late entry in review once', async () => {
    const seed = crashSeed();
    const rnd = mulberry32(seed);
    const dir = mkdtempSync(join(tmpdir(), 'sluice-payroll-crash-'));
    const transport = await NatsTransport.connect({ servers: server().url });
    const children: CrashChild[] = [];
    const timeline: string[] = [];
    try {
      await transport.ensureStream({ name: STREAMS.entries, subjects: [SUBJECTS.entries] });
      await transport.ensureStream({ name: STREAMS.ops, subjects: [SUBJECTS.periodClosed] });
      const entries: Entry[] = [];
      let id = 0;
      for (const period of PERIODS) {
        for (let e = 1; e <= EMPLOYEES; e++) {
          for (let i = 0; i < PER_EMPLOYEE; i++) {
            const date = `${period}-${String(1 + Math.floor(rnd() * 28)).padStart(2, '0')}`;
            entries.push(
              rnd() < 0.75
                ? {
                    type: 'time',
                    entryId: `e${++id}`,
                    employeeId: `emp${e}`,
                    date,
                    minutes: 1 + Math.floor(rnd() * 600),
                    rateCentsPerHour: 1500 + Math.floor(rnd() * 5000),
                  }
                : { type: 'expense', entryId: `e${++id}`, employeeId: `emp${e}`, date, amountCents: Math.floor(rnd() * 20_000) },
            );
          }
        }
      }
      // The last November entry of five employees comes only after the close: they wait for it.
      const held = entries.filter(
        (e) =>
          e.date.startsWith('2026-11') &&
          Number(e.employeeId.slice(3)) <= 5 &&
          e.entryId === entries.filter((x) => x.employeeId === e.employeeId && x.date.startsWith('2026-11')).at(-1)!.entryId,
      );
      const first = entries.filter((e) => !held.includes(e));
      const late: Entry[] = Array.from({ length: 5 }, (_, i) => ({
        type: 'expense',
        entryId: `late${i}`,
        employeeId: `emp${i + 1}`,
        date: '2026-10-15',
        amountCents: 100 + i,
      }));
      const publish = async (list: readonly Entry[]): Promise<void> => {
        for (const e of list) await transport.publishDurable(`payroll.entries.${e.type}.${e.employeeId}`, msgpackCodec.encode(e), { msgId: e.entryId });
      };
      await publish(first);

      const cfg: TopologyChildConfig = { url: server().url, fixture: FIXTURE, params: { dir } };
      const launch = async (): Promise<CrashChild> => {
        let ready = false;
        const child = spawnCrashChild(CHILD, cfg, (line) => void (line === 'ready' && (ready = true)));
        children.push(child);
        await child.when(() => ready);
        if (child.proc.exitCode !== null) throw new Error(`the child did not start: ${child.stderr()}`);
        return child;
      };
      const kill = async (child: CrashChild, what: string, maxMs: number): Promise<void> => {
        const ms = Math.floor(rnd() * maxMs);
        await sleep(ms);
        child.proc.kill('SIGKILL');
        await child.exited;
        timeline.push(`SIGKILL ${ms} ms after ready, ${what}; out ${await messages(transport, STREAMS.out)}`);
      };

      // Run 1: killed while entries are handed over to the batch's stream.
      await kill(await launch(), 'handing over entries', 1500);
      // Run 2: once every entry is in the batch's stream, both periods close (expected counts per employee); killed while payslips go out.
      const run2 = await launch();
      expect(await waitUntil(async () => (await messages(transport, BATCH_STREAM)) >= first.length, 30_000)).toBe(true);
      for (const period of PERIODS) {
        const expected: Record<string, number> = {};
        for (const e of entries) if (e.date.startsWith(period)) expected[e.employeeId] = (expected[e.employeeId] ?? 0) + 1;
        await transport.publishDurable(SUBJECTS.periodClosed, msgpackCodec.encode({ period, expected } satisfies PeriodClosed));
      }
      await kill(run2, 'computing payslips', 1500);
      // Run 3: the held entries complete their employees; killed at once or a little later.
      const run3 = await launch();
      await publish(held);
      await kill(run3, 'completing waiting employees', 1500);
      // Run 4: all payslips out; late entries arrive; killed while they go to review.
      const run4 = await launch();
      expect(await waitUntil(async () => (await messages(transport, STREAMS.out)) >= EMPLOYEES * PERIODS.length, 60_000)).toBe(true);
      await publish(late);
      await kill(run4, 'sending late entries to review', 800);
      const last = await launch();
      const completed = await waitUntil(async () => (await messages(transport, STREAMS.out)) >= EMPLOYEES * PERIODS.length + late.length, 60_000);
      last.proc.kill('SIGTERM');
      const { code } = await last.exited;

      const out = await readStream(transport, STREAMS.out);
      const payslips = out.filter((m) => m.subject === SUBJECTS.payslips).map((m) => msgpackCodec.decode(m.data) as Payslip);
      const review = out.filter((m) => m.subject === SUBJECTS.review).map((m) => msgpackCodec.decode(m.data) as LateEntry);
      const perGroup = new Map<string, Payslip[]>();
      for (const p of payslips) perGroup.set(`${p.employeeId}|${p.period}`, [...(perGroup.get(`${p.employeeId}|${p.period}`) ?? []), p]);
      const gross = grossOf(entries);
      const duplicated = [...perGroup.values()].filter((l) => l.length > 1).length;
      const lost = [...gross.keys()].filter((k) => !perGroup.has(k)).length;
      const wrong = [...perGroup].filter(([k, l]) => l[0]!.grossCents !== gross.get(k)).map(([k]) => k);
      console.log(
        `payroll crash: seed ${seed}; ${entries.length} entries, ${late.length} late; [${timeline.join('; ')}]; payslips ${payslips.length}: lost ${lost}, duplicated ${duplicated}, wrong gross ${wrong.length}; review ${review.length}`,
      );
      expect(completed).toBe(true);
      expect(code).toBe(0);
      expect({ lost, duplicated, wrong }).toEqual({ lost: 0, duplicated: 0, wrong: [] });
      expect(payslips).toHaveLength(EMPLOYEES * PERIODS.length);
      expect(review.map((r) => (msgpackCodec.decode(r.payload) as Entry).entryId).sort()).toEqual(late.map((e) => e.entryId));
    } finally {
      for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
      await transport.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
