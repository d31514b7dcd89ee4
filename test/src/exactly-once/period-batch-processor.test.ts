import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import { decodeDeadLetter } from '../../../src/dead-letter/encode-dead-letter.js';
import type { DurableBatchConfig, DurableBatchHandle, LateRecord, PeriodsConfig } from '../../../src/exactly-once/durable-batch-types.js';
import { startDurableBatch } from '../../../src/exactly-once/start-durable-batch.js';
import { openStateStore } from '../../../src/state/open-state-store.js';
import type { StateStore } from '../../../src/state/types.js';
import { LocalTransport } from '../../../src/transport/local/local-transport.js';
import type { Transport } from '../../../src/transport/transport.js';
import { uniqueName, useNatsServer } from '../../helpers/nats-server.js';
import { readStream } from '../../helpers/read-stream.js';
import { openTransport, TRANSPORT_KINDS, type TransportKind } from '../../helpers/transports.js';
import { periodModel, type PeriodStep } from './period-batch-model.js';

/*
 * Period batches end to end on the engine (accumulator + flusher + outbox): a fast-check property
 * against the sequential model of period-batch-model.ts with crashes injected at random points of
 * the commit protocol, then scenarios on both transports (a real nats-server and the in-process one).
 */

const server = useNatsServer();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

interface Value {
  id: number;
  k: string;
  p: string;
  final?: boolean;
}
interface Close {
  p: string;
}
/** One flush output per value: the value's id and what the chunk said about its group. */
interface Out {
  id: number;
  key: string;
  period: string;
  chunk: number;
  last: boolean;
  finals: number;
}

const periods = (late: string, finalRule: boolean): PeriodsConfig<Value, Close, number> => ({
  keyOf: (v) => v.k,
  periodOf: (v) => v.p,
  closeOf: (c) => c.p,
  tally: (n, v) => (n ?? 0) + (v.final === true ? 1 : 0),
  complete: finalRule ? (g) => (g.tally ?? 0) > 0 : undefined,
  lateSubject: late,
});

function tempStore(): { store: StateStore; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-period-'));
  const store = openStateStore({ dir, topology: 'top', noSync: true });
  return { store, dir };
}

interface Rig {
  transport: Transport;
  input: string;
  out: string;
  late: string;
  dlq: string;
  streams: { out: string; late: string; dlq: string };
}

async function rig(transport: Transport): Promise<Rig> {
  const base = uniqueName('pb');
  const r: Rig = {
    transport,
    input: base.toUpperCase(),
    out: `${base}.out`,
    late: `${base}.late`,
    dlq: `${base}.dlq`,
    streams: { out: `${base.toUpperCase()}_OUT`, late: `${base.toUpperCase()}_LATE`, dlq: `${base.toUpperCase()}_DLQ` },
  };
  await transport.ensureStream({ name: r.input, subjects: [`${base}.in.>`] });
  await transport.ensureStream({ name: r.streams.out, subjects: [r.out], duplicateWindowMs: 120_000 });
  await transport.ensureStream({ name: r.streams.late, subjects: [r.late], duplicateWindowMs: 120_000 });
  await transport.ensureStream({ name: r.streams.dlq, subjects: [r.dlq], duplicateWindowMs: 120_000 });
  return r;
}

async function publishSteps(r: Rig, steps: readonly PeriodStep[]): Promise<number> {
  let last = 0;
  const base = r.input.toLowerCase();
  for (const s of steps) {
    const data =
      s.kind === 'value'
        ? msgpackCodec.encode({ id: s.id, k: s.k, p: s.p, ...(s.final ? { final: true } : {}) } satisfies Value)
        : msgpackCodec.encode({ p: s.p } satisfies Close);
    last = (await r.transport.publishDurable(`${base}.in.${s.kind}`, data, { headers: { 'Content-Type': msgpackCodec.contentType } })).seq;
  }
  return last;
}

function config(r: Rig, store: StateStore, chunkSize: number, finalRule: boolean, maxCount = 1000): DurableBatchConfig {
  return {
    name: 'pay',
    transport: r.transport,
    store,
    source: { stream: r.input },
    triggerSubjects: [`${r.input.toLowerCase()}.in.close`],
    periods: periods(r.late, finalRule),
    chunkSize,
    deadLetterSubject: r.dlq,
    batch: { maxCount, maxWaitMs: 0 },
    flush: (chunk, emit, info) => {
      for (const rec of chunk) {
        const v = msgpackCodec.decode(rec.data) as Value;
        emit(
          r.out,
          msgpackCodec.encode({
            id: v.id,
            key: info.key!,
            period: info.period!,
            chunk: info.chunk,
            last: info.last,
            finals: info.tally as number,
          } satisfies Out),
        );
      }
    },
  };
}

const outputsOf = async (r: Rig): Promise<Out[]> => (await readStream(r.transport, r.streams.out)).map((m) => msgpackCodec.decode(m.data) as Out);
const lateOf = async (r: Rig): Promise<LateRecord[]> => (await readStream(r.transport, r.streams.late)).map((m) => msgpackCodec.decode(m.data) as LateRecord);

const stepArb: fc.Arbitrary<Omit<PeriodStep, 'id'> | { kind: 'close'; p: string }> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('value' as const),
      k: fc.constantFrom('ann', 'bob', 'cy'),
      p: fc.constantFrom('m1', 'm2', 'm3'),
      final: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('close' as const), p: fc.constantFrom('m1', 'm2', 'm3') }) },
);

describe('period batches on the engine', () => {
  it('property: with any keys, periods, closes, chunk sizes, micro-batch cuts and crashes, every value is in exactly one flushed group (as the model says, in order) or exactly one late record', async () => {
    const arb = fc.record({
      raw: fc.array(stepArb, { minLength: 5, maxLength: 60 }),
      chunkSize: fc.integer({ min: 1, max: 5 }),
      maxCount: fc.integer({ min: 1, max: 8 }),
      finalRule: fc.boolean(),
      // Each crash: the fault call (counted over one run) at which the process "dies".
      crashes: fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 1, maxLength: 3 }),
    });
    await fc.assert(
      fc.asyncProperty(arb, async ({ raw, chunkSize, maxCount, finalRule, crashes }) => {
        let id = 0;
        const steps: PeriodStep[] = raw.map((s) =>
          s.kind === 'value' ? { ...(s as Omit<Extract<PeriodStep, { kind: 'value' }>, 'id'>), id: ++id } : (s as { kind: 'close'; p: string }),
        );
        const transport = new LocalTransport();
        const { store, dir } = tempStore();
        try {
          const r = await rig(transport);
          const lastSeq = await publishSteps(r, steps);
          // No dead-letter subject: a throwing flush then stops the batch, as a crash would (with one it would be isolated value by value).
          const base = { ...config(r, store, chunkSize, finalRule, maxCount), deadLetterSubject: undefined };
          for (const at of crashes) {
            // Counted over the engine's commit protocol, the flush publisher and the flush calls
            // (a crash before a chunk commits), so a crash can land anywhere.
            let calls = 0;
            const crash = (): void => {
              if (++calls === at) throw new Error('simulated crash');
            };
            const h = await startDurableBatch({
              ...base,
              faults: crash,
              flush: (chunk, emit, info) => {
                crash();
                return base.flush(chunk, emit, info);
              },
            }).catch(() => undefined);
            if (h === undefined) continue;
            await Promise.race([h.done.catch(() => undefined), h.settled(lastSeq).catch(() => undefined)]);
            await h.stop({ timeoutMs: 0 }).catch(() => undefined);
          }
          const h = await startDurableBatch(base);
          await h.settled(lastSeq);
          const stats = h.stats;
          await h.stop();
          const want = periodModel(steps, finalRule);
          const outs = await outputsOf(r);
          // Grouped by key|period in publish order: each group's ids in stream order, groups in seal order.
          const got: { key: string; period: string; ids: number[] }[] = [];
          for (const o of outs) {
            const g = got.at(-1);
            if (g !== undefined && g.key === o.key && g.period === o.period) g.ids.push(o.id);
            else got.push({ key: o.key, period: o.period, ids: [o.id] });
          }
          expect(got).toEqual(want.flushed.map((g) => ({ key: g.key, period: g.period, ids: [...g.ids] })));
          expect((await lateOf(r)).map((l) => msgpackCodec.decode(l.payload) as Value).map((v) => v.id)).toEqual(want.late);
          const all = [...outs.map((o) => o.id), ...(await lateOf(r)).map((l) => (msgpackCodec.decode(l.payload) as Value).id)];
          expect(new Set(all).size).toBe(all.length);
          // Chunks: numbered from 0 per group, `last` only on the group's final value.
          for (const g of want.flushed) {
            const mine = outs.filter((o) => o.key === g.key && o.period === g.period);
            expect(mine.map((o) => o.chunk)).toEqual(mine.map((_, i) => Math.floor(i / chunkSize)));
            expect(mine.map((o) => o.last)).toEqual(mine.map((_, i) => i >= Math.floor((mine.length - 1) / chunkSize) * chunkSize));
          }
          expect({ open: stats.openGroups, waiting: stats.waitingGroups, late: stats.late }).toEqual({
            open: want.open,
            waiting: want.waiting,
            late: want.late.length,
          });
        } finally {
          await transport.close();
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 25) },
    );
  }, 240_000);
});

describe.each(TRANSPORT_KINDS)('period batches on the %s transport', (kind: TransportKind) => {
  async function start(finalRule: boolean, chunkSize = 2): Promise<{ r: Rig; h: DurableBatchHandle; store: StateStore }> {
    const transport = await openTransport(kind, server);
    cleanups.push(() => transport.close());
    const { store, dir } = tempStore();
    cleanups.push(async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const r = await rig(transport);
    const h = await startDurableBatch(config(r, store, chunkSize, finalRule));
    cleanups.push(() => h.stop());
    return { r, h, store };
  }
  const v = (id: number, k: string, p: string, final = false): PeriodStep => ({ kind: 'value', id, k, p, final });
  const close = (p: string): PeriodStep => ({ kind: 'close', p });

  it('a close flushes its period per key, in chunks that name key, period and chunk index; later values of that period are late records', async () => {
    const { r, h } = await start(false);
    const steps = [
      v(1, 'ann', 'nov'),
      v(2, 'bob', 'nov'),
      v(3, 'ann', 'dec'),
      v(4, 'ann', 'nov'),
      v(5, 'ann', 'nov'),
      close('nov'),
      v(6, 'bob', 'nov'),
      v(7, 'bob', 'dec'),
    ];
    await h.settled(await publishSteps(r, steps));
    expect((await outputsOf(r)).map((o) => `${o.key}/${o.period}#${o.id} c${o.chunk}${o.last ? ' last' : ''}`)).toEqual([
      'ann/nov#1 c0',
      'ann/nov#4 c0',
      'ann/nov#5 c1 last',
      'bob/nov#2 c0 last',
    ]);
    const late = await lateOf(r);
    expect(late.map((l) => ({ key: l.key, period: l.period, batch: l.batch, stream: l.stream, id: (msgpackCodec.decode(l.payload) as Value).id }))).toEqual([
      { key: 'bob', period: 'nov', batch: 'pay', stream: r.input, id: 6 },
    ]);
    expect(late[0]!.closedBySeq).toBe(6);
    expect(late[0]!.seq).toBe(7);
    expect(h.stats).toMatchObject({ openGroups: 2, waitingGroups: 0, late: 1, open: 2, batchesFlushed: 2 });
  });

  it('with a completeness rule, an incomplete group waits (visible in stats) and flushes when its final entry comes; a value after that is late', async () => {
    const { r, h } = await start(true);
    let seq = await publishSteps(r, [v(1, 'ann', 'nov', true), v(2, 'bob', 'nov'), close('nov')]);
    await h.settled(seq);
    expect((await outputsOf(r)).map((o) => o.id)).toEqual([1]);
    expect(h.stats).toMatchObject({ waitingGroups: 1, waitingByPeriod: { nov: 1 }, openGroups: 0 });
    seq = await publishSteps(r, [v(3, 'bob', 'nov'), v(4, 'bob', 'nov', true), v(5, 'bob', 'nov')]);
    await h.settled(seq);
    expect((await outputsOf(r)).map((o) => `${o.key}#${o.id}:${o.finals}`)).toEqual(['ann#1:1', 'bob#2:1', 'bob#3:1', 'bob#4:1']);
    expect((await lateOf(r)).map((l) => (msgpackCodec.decode(l.payload) as Value).id)).toEqual([5]);
    expect(h.stats).toMatchObject({ waitingGroups: 0, waitingByPeriod: {}, late: 1 });
  });

  it('a value whose keyOf returns no string is dead-lettered with its bytes and position, and the batch goes on', async () => {
    const { r, h } = await start(false);
    const seq = await publishSteps(r, [v(1, '', 'nov'), v(2, 'ann', 'nov'), close('nov')]);
    await h.settled(seq);
    expect((await outputsOf(r)).map((o) => o.id)).toEqual([2]);
    const letters = (await readStream(r.transport, r.streams.dlq)).map((m) => decodeDeadLetter(m.data));
    expect(letters.map((l) => [l.seq, l.error.name, (msgpackCodec.decode(l.payload) as Value).id])).toEqual([[1, 'PeriodLabelError', 1]]);
    expect(letters[0]!.error.message).toContain("'periods.keyOf' must return a non-empty string");
  });
});

describe('period batch closes', () => {
  it('a later close of a closed period re-checks its waiting groups with the new close; a throwing rule counts as not yet', async () => {
    const transport = new LocalTransport();
    const { store, dir } = tempStore();
    try {
      const r = await rig(transport);
      const warnings: string[] = [];
      const h = await startDurableBatch({
        ...config(r, store, 10, false),
        logger: { debug() {}, info() {}, warn: (_f, msg) => void warnings.push(msg ?? ''), error() {} },
        periods: {
          ...periods(r.late, false),
          complete: (g, c: Close & { need?: number }) => {
            if (c.need === undefined) throw new Error('no need given');
            return g.count >= c.need;
          },
        } as PeriodsConfig<any, any, any>,
      });
      const base = r.input.toLowerCase();
      const send = async (kind: string, body: object): Promise<number> => (await transport.publishDurable(`${base}.in.${kind}`, msgpackCodec.encode(body))).seq;
      await send('value', { id: 1, k: 'ann', p: 'nov' });
      await h.settled(await send('close', { p: 'nov' })); // the rule throws: not yet
      expect(h.stats).toMatchObject({ waitingGroups: 1, ruleErrors: 1 });
      expect(warnings).toContain('period batch: complete() threw; the group keeps waiting');
      await h.settled(await send('close', { p: 'nov', need: 2 }));
      expect((await outputsOf(r)).map((o) => o.id)).toEqual([]);
      await h.settled(await send('close', { p: 'nov', need: 1 }));
      expect((await outputsOf(r)).map((o) => o.id)).toEqual([1]);
      expect(h.stats).toMatchObject({ waitingGroups: 0, waitingByPeriod: {}, late: 0 });
      await h.stop();
    } finally {
      await transport.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('period batch options', () => {
  it('rejects periods without functions, with maxItems, or without triggers', async () => {
    const transport = new LocalTransport();
    const { store, dir } = tempStore();
    try {
      const base: DurableBatchConfig = {
        name: 'x',
        transport,
        store,
        source: { stream: 'S' },
        triggerSubjects: ['close'],
        flush: () => undefined,
        periods: periods('late', false) as PeriodsConfig<any, any, any>,
      };
      await expect(startDurableBatch({ ...base, periods: { ...base.periods!, keyOf: undefined as never } })).rejects.toThrow(
        /'periods.keyOf' must be a function/,
      );
      await expect(startDurableBatch({ ...base, periods: { ...base.periods!, lateSubject: 'late.*' } })).rejects.toThrow(/periods.lateSubject/);
      await expect(startDurableBatch({ ...base, maxItems: 5 })).rejects.toThrow(/'maxItems' cannot be used with periods/);
      await expect(startDurableBatch({ ...base, triggerSubjects: [] })).rejects.toThrow(/close on a trigger/);
    } finally {
      await transport.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
