import { pino } from 'pino';
import { concatMap, finalize, from, of } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { msgpackCodec } from '../../src/codec/msgpack-codec.js';
import type { Envelope } from '../../src/envelope/envelope.js';
import { defineTopology } from '../../src/runtime/define-topology.js';
import { runTopology, type RunningTopology } from '../../src/runtime/run-topology.js';
import { lmdbBatchBuffer } from '../../src/state/lmdb-batch-buffer.js';
import { LocalTransport } from '../../src/transport/local/local-transport.js';
import { batchUntil } from '../../operators/batch-until.js';
import { onSubject } from '../../operators/on-subject.js';
import { poll } from '../../operators/poll.js';
import { settleMap } from '../../operators/settle-map.js';
import { useTempStateStores } from '../helpers/temp-state-store.js';
import { until } from '../helpers/until.js';

const untilWhat = (what: string, check: () => boolean | Promise<boolean>) => until(check, { what, everyMs: 5, timeoutMs: 5_000 });

/*
 * The holding operators in topologies as users write them, on the in-process transport (the same
 * durable-consumer semantics as JetStream): the stream's unsettled count shows when inputs are
 * acknowledged. The SIGKILL crash tests of these topologies live in test/crash.
 */
const silent = pino({ level: 'silent' });
const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function start(transport: LocalTransport, build: Parameters<typeof defineTopology>[1], drainTimeoutMs?: number): Promise<RunningTopology> {
  const run = await runTopology(defineTopology('hold', build), { transport, logger: silent, report: () => undefined, closeTransport: false, drainTimeoutMs });
  cleanups.push(() => run.stop());
  return run;
}

const tempStore = useTempStateStores('hold');

describe('t.stream -> batchUntil -> durable sink', () => {
  const setup = async () => {
    const transport = new LocalTransport();
    cleanups.push(() => transport.close());
    await transport.ensureStream({ name: 'PREFS', subjects: ['prefs.>'] });
    await transport.ensureStream({ name: 'SYNCED', subjects: ['synced'] });
    for (let i = 1; i <= 5; i++) await transport.publishDurable(`prefs.c${i}`, msgpackCodec.encode({ customer: `c${i}` }));
    return transport;
  };
  const synced = (transport: LocalTransport) => transport.streamState('SYNCED').then((s) => s.messages);

  it('memory buffer: every input stays unacknowledged until its batch is published, then all are acknowledged', async () => {
    const transport = await setup();
    const run = await start(transport, (t) =>
      t.stream<{ customer: string }>('PREFS', 'prefs.>').pipe(
        batchUntil(onSubject(t.source('ops.end-of-day')), { name: 'prefs' }),
        concatMap((batch) => batch.processChunks(100, (chunk) => of(chunk.map((e) => e.data.customer))).pipe(finalize(() => batch.release()))),
        t.sink('synced', { durable: true }),
      ),
    );
    await untilWhat('5 held', () => run.stats.unsettled === 5);
    await new Promise((r) => setTimeout(r, 30));
    expect([run.stats.unsettled, await synced(transport)]).toEqual([5, 0]);
    transport.publish('ops.end-of-day', msgpackCodec.encode(null));
    await untilWhat('all settled', () => run.stats.unsettled === 0);
    expect(await synced(transport)).toBe(1);
  });

  it('lmdb buffer: inputs are acknowledged once stored, long before the batch is flushed', async () => {
    const transport = await setup();
    const store = tempStore();
    const run = await start(transport, (t) =>
      t.stream<{ customer: string }>('PREFS', 'prefs.>').pipe(
        batchUntil(onSubject(t.source('ops.end-of-day')), { name: 'prefs', buffer: lmdbBatchBuffer<Envelope<{ customer: string }>>({ store, name: 'prefs' }) }),
        concatMap((batch) => batch.processChunks(100, (chunk) => of(chunk.map((e) => e.data.customer))).pipe(finalize(() => batch.release()))),
        t.sink('synced', { durable: true }),
      ),
    );
    await untilWhat('all stored and acknowledged', async () => run.stats.unsettled === 0 && lmdbBatchBuffer({ store, name: 'prefs' }).count() === 5);
    expect(await synced(transport)).toBe(0);
    transport.publish('ops.end-of-day', msgpackCodec.encode(null));
    await untilWhat('published', async () => (await synced(transport)) === 1);
    await untilWhat('released', () => lmdbBatchBuffer({ store, name: 'prefs' }).unreleased().length === 0);
  });
});

describe('poll -> settleMap -> durable sink', () => {
  it('saves the cursor after the publish acks; a deterministic poll re-read after a crash publishes nothing twice', async () => {
    const transport = new LocalTransport();
    cleanups.push(() => transport.close());
    await transport.ensureStream({ name: 'LEDGER', subjects: ['ledger.out'], duplicateWindowMs: 60_000 });
    const rows = Array.from({ length: 6 }, (_, i) => ({ id: i + 1 }));
    let saved: number | undefined;
    const build = (t: Parameters<Parameters<typeof defineTopology>[1]>[0]) =>
      poll((after: number) => of({ items: rows.filter((r) => r.id > after).slice(0, 3), cursor: Math.min(after + 3, 6), more: after + 3 < 6 }), {
        name: 'ledger',
        deterministic: true,
        everyMs: 20,
        cursor: { initial: 0, load: async () => saved, save: async (c) => void (saved = c) },
      }).pipe(
        t.untilStopped(),
        settleMap({ name: 'enrich', concurrency: 2, project: (r: { id: number }) => from(Promise.resolve({ ...r, enriched: true })) }),
        t.sink('ledger.out', { durable: true }),
      );
    const first = await start(transport, build);
    await untilWhat('cursor at the end', () => saved === 6);
    await first.stop();
    expect((await transport.streamState('LEDGER')).messages).toBe(6);
    // a crash that lost the last save: the next run re-reads from 3; the re-publishes are duplicates
    saved = 3;
    const second = await start(transport, build);
    await untilWhat('cursor at the end again', () => saved === 6);
    await second.stop();
    expect((await transport.streamState('LEDGER')).messages).toBe(6);
  });
});

describe('poll -> settleMap (concurrent) -> durable sink, crash mid-round', () => {
  it('each row keeps its output id however the rows are reordered: nothing lost, nothing published twice', async () => {
    const transport = new LocalTransport();
    cleanups.push(() => transport.close());
    await transport.ensureStream({ name: 'ROWS', subjects: ['rows.out'], duplicateWindowMs: 60_000 });
    let saved: number | undefined;
    const build = (project: (id: number) => Promise<number>) => (t: Parameters<Parameters<typeof defineTopology>[1]>[0]) =>
      poll((after: number) => of({ items: [1, 2, 3].filter((r) => r > after), cursor: 3 }), {
        name: 'rows',
        deterministic: true,
        everyMs: 1_000,
        cursor: { initial: 0, load: async () => saved, save: async (c) => void (saved = c) },
      }).pipe(t.untilStopped(), settleMap({ name: 'work', concurrency: 3, project }), t.sink('rows.out', { durable: true }));
    // First run: row 1 is published, rows 2 and 3 never finish; the run is cut off (a crash).
    const first = await start(
      transport,
      build((id) => (id === 1 ? Promise.resolve(id) : new Promise<number>(() => undefined))),
      50,
    );
    await untilWhat('row 1 published', async () => (await transport.streamState('ROWS')).messages === 1);
    await first.stop();
    expect(saved).toBeUndefined();
    // Second run re-reads the round; rows finish in reverse order this time.
    const delays: Record<number, number> = { 1: 30, 2: 15, 3: 0 };
    const second = await start(
      transport,
      build((id) => new Promise<number>((r) => setTimeout(() => r(id), delays[id]))),
    );
    await untilWhat('cursor saved', () => saved === 3);
    await second.stop();
    const published: number[] = [];
    const sub = transport.consume({ stream: 'ROWS', startSeq: 1 }).subscribe((m) => published.push(msgpackCodec.decode(m.data) as number));
    await untilWhat('read back', () => published.length === 3);
    sub.unsubscribe();
    expect(published).toEqual([1, 3, 2]);
  });
});
