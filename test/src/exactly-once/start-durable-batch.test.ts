import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../../src/errors.js';
import type { BatchRecord, DurableBatchConfig } from '../../../src/exactly-once/durable-batch-types.js';
import { decodeDeadLetter } from '../../../src/dead-letter/encode-dead-letter.js';
import { startDurableBatch } from '../../../src/exactly-once/start-durable-batch.js';
import { batchBufferLayout } from '../../../src/state/lmdb-batch-buffer.js';
import { openStateStore } from '../../../src/state/open-state-store.js';
import type { StateStore } from '../../../src/state/types.js';
import { LocalTransport } from '../../../src/transport/local/local-transport.js';
import type { Transport } from '../../../src/transport/transport.js';
import { uniqueName, useNatsServer } from '../../helpers/nats-server.js';
import { readStream } from '../../helpers/read-stream.js';
import { openTransport, TRANSPORT_KINDS, type TransportKind } from '../../helpers/transports.js';
import { batchNames, checkBatchOutputs, createBatchStreams, echoFlush, publishPlan, readBatchOutputs, type BatchNames } from './durable-batch-model.js';

const packr = new Packr({ useRecords: false });
const server = useNatsServer();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function tempStore(): StateStore {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-dbatch-'));
  const store = openStateStore({ dir, topology: 'top', noSync: true });
  cleanups.push(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return store;
}

async function setup(kind: TransportKind): Promise<{ transport: Transport; names: BatchNames; store: StateStore; base: DurableBatchConfig }> {
  const transport = await openTransport(kind, server);
  cleanups.push(() => transport.close());
  const names = batchNames(uniqueName('DBIN'), uniqueName('DBOUT'));
  await createBatchStreams(transport, names);
  const store = tempStore();
  const base: DurableBatchConfig = {
    name: 'prefs',
    transport,
    store,
    source: { stream: names.input },
    triggerSubjects: [`${names.inSubject}.eod`],
    chunkSize: 500,
    batch: { maxWaitMs: 1 },
    flush: echoFlush(names.outSubject),
  };
  return { transport, names, store, base };
}

describe.each(TRANSPORT_KINDS)('startDurableBatch on the %s transport', (kind) => {
  it('accumulates, closes a batch per end-of-day message and publishes each flush output once', async () => {
    const { transport, names, store, base } = await setup(kind);
    const plan = await publishPlan(transport, names, [1200, 'eod', 'eod', 700, 'eod', 150]);
    const infos: string[] = [];
    const handle = await startDurableBatch({
      ...base,
      flush: (chunk, emit, info) => {
        infos.push(`${info.batchId} ${info.from}+${chunk.length}/${info.count}${info.last ? ' last' : ''}`);
        return echoFlush(names.outSubject)(chunk, emit, info);
      },
    });
    cleanups.push(() => handle.stop());
    await handle.settled(plan.lastSeq);
    expect(infos).toEqual(['prefs:1 0+500/1200', 'prefs:1 500+500/1200', 'prefs:1 1000+200/1200 last', 'prefs:2 0+500/700', 'prefs:2 500+200/700 last']);
    expect(checkBatchOutputs('top.prefs.batch.', plan, await readBatchOutputs(transport, names.output))).toEqual([]);
    expect(handle.stats).toMatchObject({ open: 150, batchesFlushed: 2, chunks: 5, outputs: 1900, position: plan.lastSeq });
    // Flushed values are gone from the store; the open batch's 150 remain.
    const keys = [...store.entries(batchBufferLayout.namespace('prefs'))].map((e) => e.key);
    expect(keys.filter((k) => k.startsWith('v.')).length).toBe(150);
    expect(keys.filter((k) => k.startsWith('seg.'))).toEqual([]);
    expect([...store.outbox('prefs.batch')]).toEqual([]);
    await Promise.all([handle.stop(), handle.stop()]);
    await expect(handle.stop()).resolves.toBeUndefined();
  });

  it('closes batches at maxItems and, with emitEmpty, on a trigger with nothing open', async () => {
    const { transport, names, base } = await setup(kind);
    const plan = await publishPlan(transport, names, [250, 'eod']);
    const seen: string[] = [];
    const handle = await startDurableBatch({
      ...base,
      maxItems: 100,
      emitEmpty: true,
      flush: (chunk, _emit, info) => void seen.push(`${info.batchSeq}:${info.reason}:${chunk.length}`),
    });
    cleanups.push(() => handle.stop());
    await handle.settled(plan.lastSeq);
    expect(seen).toEqual(['1:max-items:100', '2:max-items:100', '3:trigger:50']);
  });

  it('a crash mid-publish of a flush: the restart re-publishes committed chunks and finishes, each output once', async () => {
    const { transport, names, store, base } = await setup(kind);
    const plan = await publishPlan(transport, names, [3000, 'eod', 400, 'eod']);
    let sent = 0;
    const crashed = await startDurableBatch({
      ...base,
      faults: (ctx) => {
        if (ctx.point === 'mid-publish' && ++sent === 1700) throw new Error('simulated crash');
      },
    });
    await expect(crashed.done).rejects.toThrow('simulated crash');
    await crashed.stop().catch(() => undefined);
    expect([...store.outbox('prefs.batch')].length).toBeGreaterThan(0);
    const handle = await startDurableBatch(base);
    cleanups.push(() => handle.stop());
    await handle.settled(plan.lastSeq);
    expect(checkBatchOutputs('top.prefs.batch.', plan, await readBatchOutputs(transport, names.output))).toEqual([]);
    expect(handle.stats.duplicates).toBeGreaterThan(0);
  });

  it('a flush that throws stops the batch without committing the chunk; a restart runs it again', async () => {
    const { transport, names, base } = await setup(kind);
    const plan = await publishPlan(transport, names, [600, 'eod']);
    let calls = 0;
    const failing = await startDurableBatch({
      ...base,
      flush: (chunk, emit, info) => {
        if (++calls === 2) throw new Error('downstream down');
        return echoFlush(names.outSubject)(chunk, emit, info);
      },
    });
    await expect(failing.done).rejects.toThrow('downstream down');
    await failing.stop().catch(() => undefined);
    const handle = await startDurableBatch(base);
    cleanups.push(() => handle.stop());
    await handle.settled(plan.lastSeq);
    expect(checkBatchOutputs('top.prefs.batch.', plan, await readBatchOutputs(transport, names.output))).toEqual([]);
  });

  it('with deadLetterSubject, values whose flush throws are dead-lettered once (original bytes, seq) and the rest flushed', async () => {
    const { transport, names, base } = await setup(kind);
    const dlq = `${names.outSubject}_dlq`;
    await transport.ensureStream({ name: `${names.output}_DLQ`, subjects: [dlq] });
    const plan = await publishPlan(transport, names, [700, 'eod']);
    const echo = echoFlush(names.outSubject);
    const poison = (r: BatchRecord): boolean => (packr.unpack(r.data) as { n: number }).n % 100 === 7;
    const handle = await startDurableBatch({
      ...base,
      deadLetterSubject: dlq,
      flush: (chunk, emit, info) => {
        if (chunk.some(poison)) throw new TypeError('cannot map the record');
        return echo(chunk, emit, info);
      },
    });
    cleanups.push(() => handle.stop());
    await handle.settled(plan.lastSeq);
    const bad = plan.batches[0]!.filter((seq) => plan.dataOf.get(seq)! % 100 === 7);
    const outputs = await readBatchOutputs(transport, names.output);
    expect(outputs.map((o) => o.s).sort((a, b) => a - b)).toEqual(plan.batches[0]!.filter((seq) => !bad.includes(seq)));
    const letters = (await readStream(transport, `${names.output}_DLQ`)).map((m) => ({ id: m.headers['Nats-Msg-Id'] ?? '', data: m.data }));
    expect(letters.map((l) => decodeDeadLetter(l.data)).map((r) => [r.seq, (packr.unpack(r.payload) as { n: number }).n, r.error.name, r.operator])).toEqual(
      bad.map((seq) => [seq, plan.dataOf.get(seq), 'TypeError', 'durableBatch:prefs']),
    );
    const ids = [...outputs.map((o) => o.id), ...letters.map((l) => l.id)];
    expect(new Set(ids).size).toBe(700);
    expect(handle.stats.deadLettered).toBe(bad.length);
  });

  it('rejects bad options at start', async () => {
    const { transport } = await setup(kind);
    const store = tempStore();
    const base = { name: 'x', transport, store, source: { stream: 'S' }, flush: () => undefined };
    await expect(startDurableBatch({ ...base, name: 'a.b', triggerSubjects: ['t'] })).rejects.toThrow(InvalidConfigError);
    await expect(startDurableBatch(base)).rejects.toThrow(/never close/);
    await expect(startDurableBatch({ ...base, triggerSubjects: ['a..b'] })).rejects.toThrow(/triggerSubjects/);
    await expect(startDurableBatch({ ...base, maxItems: 0 })).rejects.toThrow(/maxItems/);
    await expect(startDurableBatch({ ...base, maxItems: 5, chunkSize: 0 })).rejects.toThrow(/chunkSize/);
    await expect(startDurableBatch({ ...base, maxItems: 5, deadLetterSubject: 'dlq.*' })).rejects.toThrow(/deadLetterSubject/);
    await expect(startDurableBatch({ ...base, maxItems: 5, transport: undefined as unknown as Transport })).rejects.toThrow(/'transport' must be a Transport/);
  });
});

describe('startDurableBatch over state written before the seal queue', () => {
  it('queues the sealed segments it finds (low..open-1) once, in order, and flushes them', async () => {
    const transport = new LocalTransport();
    cleanups.push(() => transport.close());
    const names = batchNames(uniqueName('DBIN'), uniqueName('DBOUT'));
    await createBatchStreams(transport, names);
    const store = tempStore();
    const ns = batchBufferLayout.namespace('prefs');
    // The old layout: segments 2 and 3 sealed (1 already flushed), no queue keys.
    store.transaction((w) => {
      for (const [seg, seqs] of [
        [2, [5, 6]],
        [3, [7]],
      ] as const) {
        seqs.forEach((seq, i) =>
          w.put(ns, batchBufferLayout.value(seg, i), {
            subject: 'x',
            data: packr.pack({ n: seq }),
            headers: {},
            stream: names.input,
            seq,
            timestampMs: 0,
          } satisfies BatchRecord),
        );
        w.put(ns, batchBufferLayout.segment(seg), { seq: seg, count: seqs.length, firstSeq: seqs[0], lastSeq: seqs.at(-1), reason: 'trigger' });
      }
      w.put(ns, batchBufferLayout.low, 2);
      w.put(ns, batchBufferLayout.acc, { open: 4, count: 0 });
    });
    const seen: string[] = [];
    const handle = await startDurableBatch({
      name: 'prefs',
      transport,
      store,
      source: { stream: names.input },
      triggerSubjects: [`${names.inSubject}.eod`],
      flush: (chunk, _emit, info) => void seen.push(`${info.batchSeq}:${chunk.map((r) => r.seq).join(',')}`),
    });
    cleanups.push(() => handle.stop());
    await handle.settled(0);
    expect(seen).toEqual(['2:5,6', '3:7']);
    expect(store.get(ns, batchBufferLayout.queueTail)).toBe(2);
  });
});
