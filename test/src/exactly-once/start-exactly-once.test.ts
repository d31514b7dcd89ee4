import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidConfigError, TransportError } from '../../../src/errors.js';
import { BatchFailedError } from '../../../src/exactly-once/exactly-once-errors.js';
import { startExactlyOnce } from '../../../src/exactly-once/start-exactly-once.js';
import type { Logger } from '../../../src/logger.js';
import type { ExactlyOnceConfig, FaultContext } from '../../../src/exactly-once/types.js';
import { openStateStore } from '../../../src/state/open-state-store.js';
import type { StateStore } from '../../../src/state/types.js';
import type { Transport } from '../../../src/transport/transport.js';
import { uniqueName, useNatsServer } from '../../helpers/nats-server.js';
import { openTransport, TRANSPORT_KINDS, type TransportKind } from '../../helpers/transports.js';
import { checkExactlyOnce, counterProcessor, createStreams, publishInputs, readOutputs } from './counter-model.js';

const server = useNatsServer();

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

interface Setup {
  transport: Transport;
  input: string;
  inSubject: string;
  output: string;
  outSubject: string;
  dir: string;
  open(): StateStore;
  config(store: StateStore, extra?: Partial<ExactlyOnceConfig>): ExactlyOnceConfig;
}

async function setup(kind: TransportKind, duplicateWindowMs?: number): Promise<Setup> {
  const transport = await openTransport(kind, server);
  cleanups.push(() => transport.close());
  const input = uniqueName('IN');
  const output = uniqueName('OUT');
  const names = { input, inSubject: input.toLowerCase(), output, outSubject: output.toLowerCase(), duplicateWindowMs };
  await createStreams(transport, names);
  const dir = mkdtempSync(join(tmpdir(), 'sluice-eo-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return {
    ...names,
    transport,
    dir,
    open: () => {
      const s = openStateStore({ dir, topology: 'topo', noSync: true });
      cleanups.push(() => s.close());
      return s;
    },
    config: (store, extra = {}) => ({
      name: 'counter',
      transport,
      store,
      source: { stream: input },
      batch: { maxCount: 50, maxWaitMs: 5 },
      process: counterProcessor(names.outSubject),
      ...extra,
    }),
  };
}

const keysOf = (n: number, distinct: number): string[] => Array.from({ length: n }, (_, i) => `k${(i * 7) % distinct}`);

describe.each(TRANSPORT_KINDS)('startExactlyOnce on the %s transport', (kind) => {
  it('processes a stream: state, one output per input under deterministic ids, per-key order', async () => {
    const s = await setup(kind);
    const keys = keysOf(300, 13);
    const seqs = await publishInputs(s.transport, s.inSubject, keys);
    const store = s.open();
    const engine = await startExactlyOnce(s.config(store));
    await engine.settled(seqs[seqs.length - 1]!);
    expect(engine.position).toBe(300);
    await engine.stop();
    expect(engine.stats).toMatchObject({ inputs: 300, outputs: 300, acked: 300, duplicates: 0, pendingOutboxBatches: 0 });
    expect([...store.outbox('counter')]).toEqual([]);
    expect(store.checkpoint('counter')).toMatchObject({ stream: s.input, seq: 300 });
    const problems = checkExactlyOnce({ idPrefix: 'topo.counter.', keys, seqs, outputs: await readOutputs(s.transport, s.output), store });
    expect(problems).toEqual([]);
  });

  it('removes acknowledged outbox records while idle, without waiting for more input', async () => {
    const s = await setup(kind);
    await publishInputs(s.transport, s.inSubject, keysOf(30, 3));
    const store = s.open();
    const engine = await startExactlyOnce(s.config(store));
    await engine.settled(30);
    while ([...store.outbox('counter')].length > 0) await new Promise((r) => setTimeout(r, 20));
    expect(engine.position).toBe(30);
    await engine.stop();
  });

  it('resumes after the checkpoint: a second engine processes only what is new', async () => {
    const s = await setup(kind);
    const first = keysOf(120, 5);
    const seqs = await publishInputs(s.transport, s.inSubject, first);
    const store = s.open();
    const a = await startExactlyOnce(s.config(store));
    await a.settled(120);
    await a.stop();
    const more = keysOf(80, 7);
    seqs.push(...(await publishInputs(s.transport, s.inSubject, more)));
    const b = await startExactlyOnce(s.config(store));
    await b.settled(200);
    await b.stop();
    expect(b.stats.inputs).toBe(80);
    const problems = checkExactlyOnce({ idPrefix: 'topo.counter.', keys: [...first, ...more], seqs, outputs: await readOutputs(s.transport, s.output), store });
    expect(problems).toEqual([]);
  });

  it('fails with BatchFailedError when process throws, commits nothing, and a restart recovers', async () => {
    const s = await setup(kind);
    const keys = keysOf(100, 4);
    const seqs = await publishInputs(s.transport, s.inSubject, keys);
    const store = s.open();
    const good = counterProcessor(s.outSubject);
    let calls = 0;
    const bad = await startExactlyOnce(
      s.config(store, {
        process: (batch, txn) => {
          calls += 1;
          if (calls === 2) throw new Error('handler bug');
          return good(batch, txn);
        },
      }),
    );
    await expect(bad.done).rejects.toThrow(BatchFailedError);
    await expect(bad.done).rejects.toThrow(/batch IN_\d+_\w+:51\.\.100 failed and was not committed: Error: handler bug/);
    expect(store.checkpoint('counter')?.seq).toBe(50);
    const again = await startExactlyOnce(s.config(store));
    await again.settled(100);
    await again.stop();
    expect(checkExactlyOnce({ idPrefix: 'topo.counter.', keys, seqs, outputs: await readOutputs(s.transport, s.output), store })).toEqual([]);
  });

  it('fails the batch when process writes outside it (emit for a foreign input)', async () => {
    const s = await setup(kind);
    await publishInputs(s.transport, s.inSubject, ['a', 'b']);
    const store = s.open();
    const engine = await startExactlyOnce(
      s.config(store, {
        batch: { maxCount: 1, maxWaitMs: 0 },
        process: (batch, txn) => {
          txn.emit({ ...batch[0]!, seq: 999 }, 'x.y', new Uint8Array());
        },
      }),
    );
    await expect(engine.done).rejects.toThrow(/input IN_\d+_\w+:999 is not in the batch/);
    expect(store.checkpoint('counter')).toBeUndefined();
  });

  it('after an outage longer than the duplicate window, checks the output stream instead of re-publishing blindly', async () => {
    const s = await setup(kind, 60_000);
    const keys = keysOf(40, 3);
    const seqs = await publishInputs(s.transport, s.inSubject, keys);
    const store = s.open();
    // Batches 1-10 published and acked but not removed; batch 11-20 committed and never published.
    let crash = false;
    const faults = (f: FaultContext): void => {
      if (f.point === 'before-outbox-removal') throw new Error('crash before removal');
      if (f.point === 'after-commit' && f.seq > 10 && crash) throw new Error('crash after commit');
    };
    const a = await startExactlyOnce(s.config(store, { batch: { maxCount: 10, maxWaitMs: 0 }, maxBufferedInputs: 10, faults }));
    await a.settled(10).catch(() => undefined);
    crash = true;
    await expect(a.done).rejects.toThrow(/crash/);
    const outbox = [...store.outbox('counter')].map((r) => r.seq);
    expect(outbox.length).toBeGreaterThan(0);
    // A clock two hours ahead: every outbox record is older than the 60 s window.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- bind() loses schedule's overloads
    const later: SchedulerLike = { now: () => Date.now() + 7_200_000, schedule: asyncScheduler.schedule.bind(asyncScheduler) as SchedulerLike['schedule'] };
    const b = await startExactlyOnce(s.config(store, { scheduler: later }));
    await b.settled(40);
    await b.stop();
    expect(b.stats.staleOutputs).toBeGreaterThan(0);
    expect(b.stats.staleOutputsFound).toBeGreaterThan(0);
    expect(b.stats.staleOutputsUnverified).toBe(0);
    expect(checkExactlyOnce({ idPrefix: 'topo.counter.', keys, seqs, outputs: await readOutputs(s.transport, s.output), store })).toEqual([]);
  });

  it('stops with an error when its transport is closed under it', async () => {
    const s = await setup(kind);
    const store = s.open();
    const engine = await startExactlyOnce(s.config(store));
    await s.transport.close();
    await expect(engine.done).rejects.toThrow(`lost its transport (${kind})`);
  });

  it('fails to start with TransportError when the source stream does not exist', async () => {
    const s = await setup(kind);
    await expect(startExactlyOnce(s.config(s.open(), { source: { stream: uniqueName('MISSING') } }))).rejects.toThrow(TransportError);
  });

  it('warns once at start that durability is off, on the in-process transport only', async () => {
    const s = await setup(kind);
    const warnings: string[] = [];
    const logger: Logger = { debug() {}, info() {}, warn: (_o, m) => void warnings.push(m ?? ''), error() {} };
    const engine = await startExactlyOnce(s.config(s.open(), { logger }));
    await engine.stop();
    expect(warnings.filter((m) => m.startsWith('durability off: in-process transport'))).toHaveLength(kind === 'local' ? 1 : 0);
  });

  it('logs an error when the stream ends before the checkpoint (recreated or lost data)', async () => {
    const s = await setup(kind);
    const store = s.open();
    store.transaction((w) => w.putCheckpoint('counter', { stream: s.input, seq: 5, updatedAt: 0 }));
    const errors: string[] = [];
    const logger: Logger = { debug() {}, info() {}, warn() {}, error: (_o, m) => void errors.push(m ?? '') };
    const engine = await startExactlyOnce(s.config(store, { logger }));
    await engine.stop();
    expect(errors).toEqual([expect.stringContaining('the stream ends before the checkpoint')]);
  });

  it('validates its options when started', async () => {
    const s = await setup(kind);
    const store = s.open();
    await expect(startExactlyOnce(s.config(store, { name: 'has.dot' }))).rejects.toThrow(InvalidConfigError);
    await expect(startExactlyOnce(s.config(store, { batch: { maxCount: 0 } }))).rejects.toThrow(/'batch.maxCount' must be an integer in 1..100000, got 0/);
  });

  it('refuses a checkpoint that belongs to another stream', async () => {
    const s = await setup(kind);
    const store = s.open();
    store.transaction((w) => w.putCheckpoint('counter', { stream: 'OTHER', seq: 3, updatedAt: 0 }));
    await expect(startExactlyOnce(s.config(store))).rejects.toThrow(/has a checkpoint in stream 'OTHER'/);
  });
});
