import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { filter } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import { decodeDeadLetter } from '../../../src/dead-letter/encode-dead-letter.js';
import type { LateRecord } from '../../../src/exactly-once/durable-batch-types.js';
import { defineTopology } from '../../../src/runtime/define-topology.js';
import { describeTopology, formatTopologyDescription } from '../../../src/runtime/describe-topology.js';
import { runTopology } from '../../../src/runtime/run-topology.js';
import { NatsTransport } from '../../../src/transport/nats/nats-transport.js';
import { useNatsServer } from '../../helpers/nats-server.js';
import { readStream } from '../../helpers/read-stream.js';
import { until } from '../../helpers/until.js';

const server = useNatsServer();
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

// Preference changes held until operations says "end of day", then summed per batch.
const nightly = (stateDir: string) =>
  defineTopology('nightly', (t) => {
    const sums = t.durableBatch(
      {
        name: 'prefs',
        stateDir,
        reportEveryMs: 0,
        chunkSize: 7,
        emits: { stream: 'PREF_SUMS', subjects: ['prefs.sum'] },
        flush: (chunk, emit, info) => {
          const total = chunk.reduce((n, r) => n + (msgpackCodec.decode(r.data) as { n: number }).n, 0);
          emit('prefs.sum', msgpackCodec.encode({ batch: info.batchSeq, from: info.from, count: chunk.length, total }));
        },
      },
      { values: t.stream('PREFS', 'crm.prefs.>'), triggers: t.source('ops.end-of-day') },
    );
    return sums.pipe(t.sink('prefs.audit'));
  });

describe('t.durableBatch: a durable batch as a part of a topology', () => {
  it('describe shows values and triggers handed over exactly-once, and the flush outputs', () => {
    const text = formatTopologyDescription(describeTopology(nightly('/nonexistent')));
    expect(text).toContain('PREFS (crm.prefs.>) -> sluice.batch.nightly.prefs.in, sluice.batch.nightly.prefs.trigger  exactly-once');
    expect(text).toContain('ops.end-of-day -> sluice.batch.nightly.prefs.in, sluice.batch.nightly.prefs.trigger  at-most-once');
    expect(text).toContain('durable-batch prefs -> prefs.sum  exactly-once');
  });

  it('describe follows the values to their stream when nothing but maxItems closes the batch (one lane)', () => {
    const topology = defineTopology('counted', (t) => {
      t.durableBatch({ name: 'tens', maxItems: 10, flush: () => undefined }, { values: t.stream('COUNTED', 'counted.>') });
    });
    expect(formatTopologyDescription(describeTopology(topology))).toContain(
      'COUNTED (counted.>) -> sluice.batch.counted.tens.in, sluice.batch.counted.tens.trigger  exactly-once',
    );
  });

  it('holds values until the trigger, flushes them in chunks, and keeps them across a restart', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'sluice-mount-batch-'));
    dirs.push(stateDir);
    const transport = await NatsTransport.connect({ servers: server().url });
    await transport.ensureStream({ name: 'PREFS', subjects: ['crm.prefs.>'] });
    const logger = pino({ level: 'silent' });
    const start = () => runTopology(nightly(stateDir), { transport, logger, report: () => undefined, closeTransport: false, service: false });
    const sums = async () => (await transport.streamState('PREF_SUMS').catch(() => ({ messages: 0 }))).messages;

    for (let i = 1; i <= 10; i++) await transport.publishDurable('crm.prefs.x', msgpackCodec.encode({ n: i }));
    let run = await start();
    const handedOver = async () => (await transport.streamState('SLUICE_BATCH_nightly_prefs').catch(() => ({ messages: 0 }))).messages;
    await until(async () => (await handedOver()) === 10);
    await run.stop();
    // Restarted before the trigger: the open batch is in LMDB, nothing was flushed.
    expect(await sums()).toBe(0);
    for (let i = 11; i <= 15; i++) await transport.publishDurable('crm.prefs.x', msgpackCodec.encode({ n: i }));
    run = await start();
    await until(async () => (await handedOver()) === 15);
    transport.publish('ops.end-of-day', msgpackCodec.encode({ day: '2026-12-04' }));
    await until(async () => (await sums()) === 3);
    await run.stop();

    const out: Array<{ batch: number; from: number; count: number; total: number }> = [];
    await new Promise<void>((resolve) => {
      const sub = transport.consume({ stream: 'PREF_SUMS' }).subscribe((m) => {
        out.push(msgpackCodec.decode(m.data) as (typeof out)[number]);
        if (out.length === 3) (sub.unsubscribe(), resolve());
      });
    });
    expect(out).toEqual([
      { batch: 1, from: 0, count: 7, total: 28 },
      { batch: 1, from: 7, count: 7, total: 77 },
      { batch: 1, from: 14, count: 1, total: 15 },
    ]);
    await transport.close();
  });
});

describe('t.durableBatch: dead letters', () => {
  it('a value whose flush keeps throwing goes to the topology dead-letter stream, and the batch goes on', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'sluice-mount-batch-dl-'));
    dirs.push(stateDir);
    const transport = await NatsTransport.connect({ servers: server().url });
    await transport.ensureStream({ name: 'NUMS', subjects: ['nums.>'] });
    const topology = defineTopology('picky-batch', (t) =>
      t.durableBatch(
        {
          name: 'sums',
          stateDir,
          reportEveryMs: 0,
          maxItems: 5,
          emits: { stream: 'NUM_OUT', subjects: ['nums-out.each'] },
          flush: (chunk, emit) => {
            for (const r of chunk) {
              const { n } = msgpackCodec.decode(r.data) as { n: number };
              if (n === 3) throw new Error('three is not allowed');
              emit('nums-out.each', msgpackCodec.encode({ n }));
            }
          },
        },
        { values: t.stream('NUMS', 'nums.>') },
      ),
    );
    for (let n = 1; n <= 5; n++) await transport.publishDurable('nums.x', msgpackCodec.encode({ n }));
    const run = await runTopology(topology, { transport, logger: pino({ level: 'silent' }), report: () => undefined, closeTransport: false, service: false });
    try {
      const count = async (s: string) => (await transport.streamState(s).catch(() => ({ messages: 0 }))).messages;
      await until(async () => (await count('NUM_OUT')) === 4 && (await count('SLUICE_DLQ_picky-batch')) === 1, { what: 'four outputs and one dead letter' });
      const [dead] = await readStream(transport, 'SLUICE_DLQ_picky-batch');
      expect(dead!.subject).toBe('sluice.dlq.picky-batch.sums');
      expect(decodeDeadLetter(dead!.data)).toMatchObject({ v: 1, operator: 'durableBatch:sums', error: { message: 'three is not allowed' } });
      expect(msgpackCodec.decode(decodeDeadLetter(dead!.data).payload)).toEqual({ n: 3 });
    } finally {
      await run.stop();
      await transport.close();
    }
  });
});

describe('t.durableBatch with periods', () => {
  it('makes a stream for the late subject when none captures it, and late values land there once', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'sluice-mount-period-'));
    dirs.push(stateDir);
    const transport = await NatsTransport.connect({ servers: server().url });
    await transport.ensureStream({ name: 'MONTHLY_IN', subjects: ['monthly.in.>'] });
    const topology = defineTopology('monthly', (t) => {
      const input = t.stream<{ k: string; m: string; close?: boolean }>('MONTHLY_IN', 'monthly.in.>');
      return t.durableBatch(
        {
          name: 'totals',
          stateDir,
          reportEveryMs: 0,
          emits: { stream: 'MONTHLY_OUT', subjects: ['monthly.total'] },
          periods: { keyOf: (v: { k: string }) => v.k, periodOf: (v: { m: string }) => v.m, closeOf: (c: { m: string }) => c.m, lateSubject: 'monthly.late' },
          flush: (chunk, emit, info) =>
            void (info.last && emit('monthly.total', msgpackCodec.encode({ key: info.key, month: info.period, count: info.count }))),
        },
        { values: input.pipe(filter((e) => e.data.close !== true)), triggers: input.pipe(filter((e) => e.data.close === true)) },
      );
    });
    expect(formatTopologyDescription(describeTopology(topology))).toContain('durable-batch totals -> monthly.total, monthly.late  exactly-once');
    const run = await runTopology(topology, { transport, logger: pino({ level: 'silent' }), report: () => undefined, closeTransport: false, service: false });
    for (const body of [
      { k: 'a', m: '11' },
      { k: 'a', m: '11' },
      { k: 'b', m: '11' },
      { k: '', m: '11', close: true },
      { k: 'a', m: '11' },
    ]) {
      await transport.publishDurable('monthly.in.x', msgpackCodec.encode({ ...body, ...(body.close === true ? { m: '11' } : {}) }));
    }
    const count = async (s: string) => (await transport.streamState(s).catch(() => ({ messages: 0 }))).messages;
    await until(async () => (await count('MONTHLY_OUT')) === 2 && (await count('SLUICE_BATCH_monthly_totals_LATE')) === 1);
    await run.stop();
    const totals = (await readStream(transport, 'MONTHLY_OUT')).map((m) => msgpackCodec.decode(m.data) as { key: string; count: number });
    expect(totals.map((t) => `${t.key}:${t.count}`).sort()).toEqual(['a:2', 'b:1']);
    const late = (await readStream(transport, 'SLUICE_BATCH_monthly_totals_LATE')).map((m) => msgpackCodec.decode(m.data) as LateRecord);
    expect(late.map((l) => [l.key, l.period, l.originSubject])).toEqual([['a', '11', 'monthly.in.x']]);
    await transport.close();
  }, 30_000);
});
