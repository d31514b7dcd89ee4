import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { concatMap, finalize } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { batchUntil } from '../../../operators/batch-until.js';
import { onSchedule } from '../../../operators/on-schedule.js';
import { scheduleStateIn } from '../../../src/state/schedule-state.js';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import type { Envelope } from '../../../src/envelope/envelope.js';
import { defineTopology } from '../../../src/runtime/define-topology.js';
import { describeTopology, formatTopologyDescription } from '../../../src/runtime/describe-topology.js';
import { runTopology } from '../../../src/runtime/run-topology.js';
import { lmdbBatchBuffer } from '../../../src/state/lmdb-batch-buffer.js';
import { openStateStore } from '../../../src/state/open-state-store.js';
import { NatsTransport } from '../../../src/transport/nats/nats-transport.js';
import { useNatsServer } from '../../helpers/nats-server.js';
import { until } from '../../helpers/until.js';

const server = useNatsServer();
const dirs: string[] = [];
const tempDir = (p: string) => {
  const d = mkdtempSync(join(tmpdir(), `sluice-${p}-`));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const logger = pino({ level: 'silent' });
const read = async (transport: NatsTransport, stream: string, n: number) => {
  const out: unknown[] = [];
  await new Promise<void>((resolve) => {
    const sub = transport.consume({ stream }).subscribe((m) => {
      out.push(msgpackCodec.decode(m.data));
      if (out.length === n) (sub.unsubscribe(), resolve());
    });
  });
  return out;
};

describe('t.schedule in describe', () => {
  it('states the guarantee of a schedule path by its catch-up policy', () => {
    const text = (catchUp: 'skip' | 'once' | 'all') =>
      formatTopologyDescription(
        describeTopology(
          defineTopology('d', (t) => {
            t.durableBatch(
              { name: 'p', flush: () => undefined },
              { values: t.stream('PAY', 'pay.>'), triggers: t.schedule('nightly', '0 2 * * *', { tz: 'Europe/London', catchUp }) },
            );
          }),
        ),
      );
    expect(text('all')).toContain('schedule:nightly -> sluice.batch.d.p.in, sluice.batch.d.p.trigger  exactly-once');
    expect(text('once')).toContain('schedule:nightly -> sluice.batch.d.p.in, sluice.batch.d.p.trigger  at-least-once');
    expect(text('skip')).toContain('schedule:nightly -> sluice.batch.d.p.in, sluice.batch.d.p.trigger  at-most-once');
  });
});

describe('calendar triggers in a topology, over a real nats-server', () => {
  it('a cron trigger (every second) flushes a batchUntil fed by a stream, its state in the same LMDB store', async () => {
    const dir = tempDir('cal-batch');
    const transport = await NatsTransport.connect({ servers: server().url });
    await transport.ensureStream({ name: 'CAL_IN', subjects: ['cal.in'] });
    await transport.ensureStream({ name: 'CAL_OUT', subjects: ['cal.out'] });
    const topology = defineTopology('cal-batch', (t) => {
      const store = openStateStore({ dir, topology: 'cal-batch', noSync: true });
      t.onStop(() => store.close());
      const trigger = onSchedule('* * * * * *', { tz: 'Europe/London', catchUp: 'once', overlap: 'queue', state: scheduleStateIn(store, 'every-second') });
      return t.stream<{ n: number }>('CAL_IN', 'cal.in').pipe(
        batchUntil(trigger, {
          name: 'every-second',
          buffer: lmdbBatchBuffer<Envelope<{ n: number }>>({ store, name: 'every-second' }),
          scheduler: t.scheduler,
        }),
        concatMap((batch) =>
          batch.processChunks(100, (chunk) => [{ batch: batch.batchId, ns: chunk.map((e) => e.data.n) }]).pipe(finalize(() => batch.release())),
        ),
        t.sink('cal.out', { durable: true, name: 'batches' }),
      );
    });
    const run = await runTopology(topology, { transport, logger, report: () => undefined, closeTransport: false, service: false });
    for (let n = 1; n <= 5; n++) await transport.publishDurable('cal.in', msgpackCodec.encode({ n }));
    await until(async () => (await transport.streamState('CAL_OUT')).messages >= 1, { what: 'a scheduled flush' });
    await run.stop();
    const out = (await read(transport, 'CAL_OUT', (await transport.streamState('CAL_OUT')).messages)) as { ns: number[] }[];
    expect(out.flatMap((o) => o.ns)).toEqual([1, 2, 3, 4, 5]);
    const store = openStateStore({ dir, topology: 'cal-batch', noSync: true });
    const handled = scheduleStateIn(store, 'every-second').load()!;
    await store.close();
    expect(handled % 1000).toBe(0);
    expect(Date.now() - handled).toBeLessThan(20_000);
    await transport.close();
  });

  it('t.schedule triggers a t.durableBatch; a run missed while stopped is caught up once at the next start', async () => {
    const stateDir = tempDir('cal-durable');
    const transport = await NatsTransport.connect({ servers: server().url });
    await transport.ensureStream({ name: 'PAY_IN', subjects: ['pay.entry'] });
    const topology = defineTopology('payruns', (t) => {
      t.durableBatch(
        {
          name: 'payrun',
          stateDir,
          reportEveryMs: 0,
          emits: { stream: 'PAY_OUT', subjects: ['pay.run'] },
          flush: (chunk, emit, info) => emit('pay.run', msgpackCodec.encode({ batch: info.batchSeq, count: chunk.length })),
        },
        { values: t.stream('PAY_IN', 'pay.entry'), triggers: t.schedule('payrun', '*/2 * * * * *', { tz: 'Europe/London', catchUp: 'once', overlap: 'skip' }) },
      );
    });
    const start = () => runTopology(topology, { transport, logger, report: () => undefined, closeTransport: false, service: false, stateDir });
    const runs = async () => (await transport.streamState('PAY_OUT').catch(() => ({ messages: 0 }))).messages;
    const triggers = async () => (await transport.streamState('SLUICE_BATCH_payruns_payrun').catch(() => ({ messages: 0 }))).messages;

    let run = await start();
    await until(async () => (await triggers()) >= 1, { what: 'a first scheduled trigger handed over' });
    await run.stop();
    const before = await triggers();
    // Down for at least one fire time, with entries waiting.
    for (let n = 1; n <= 3; n++) await transport.publishDurable('pay.entry', msgpackCodec.encode({ n }));
    const stoppedAt = Date.now();
    await new Promise((r) => setTimeout(r, 2_500));
    const restartedAt = Date.now();
    run = await start();
    await until(async () => (await runs()) >= 1, { what: 'the caught-up run flushing the 3 entries' });
    await run.stop();
    const out = (await read(transport, 'PAY_OUT', await runs())) as { count: number }[];
    expect(out.reduce((n, o) => n + o.count, 0)).toBe(3);
    expect(await triggers()).toBeGreaterThan(before);
    // Each run is handed over under an id from its fire time (a re-run after a crash is a duplicate);
    // one fire time fell in the downtime and was still run: the catch-up.
    const ids: string[] = [];
    const total = await triggers();
    await new Promise<void>((resolve) => {
      const sub = transport.consume({ stream: 'SLUICE_BATCH_payruns_payrun' }).subscribe((m) => {
        if (m.subject.endsWith('.trigger')) ids.push(m.headers['Nats-Msg-Id'] ?? '');
        if (m.seq === total) (sub.unsubscribe(), resolve());
      });
    });
    const times = ids.map((id) => Number(/schedule:payrun:(\d+)\.0$/.exec(id)?.[1]));
    expect(times.every((at) => Number.isInteger(at) && at % 2000 === 0)).toBe(true);
    expect(times.some((at) => at > stoppedAt && at < restartedAt)).toBe(true);
    await transport.close();
  });

  it('a run repeated because its state was not saved (a crash) reaches the durable batch once: same id, duplicate dropped', async () => {
    const stateDir = tempDir('cal-repeat');
    const transport = await NatsTransport.connect({ servers: server().url });
    await transport.ensureStream({ name: 'REP_IN', subjects: ['rep.entry'] });
    const t0 = Math.floor(Date.now() / 1000) * 1000 - 3_000;
    // A state that never records anything: every start runs every second since t0 again, as a
    // crash between each hand-over and its state commit would.
    const forgetful = { load: () => t0, save: () => undefined };
    const topology = defineTopology('repeats', (t) => {
      t.durableBatch(
        { name: 'rep', stateDir, reportEveryMs: 0, flush: () => undefined },
        {
          values: t.stream('REP_IN', 'rep.entry'),
          triggers: t.schedule('rep', '* * * * * *', { tz: 'UTC', catchUp: 'all', overlap: 'queue', state: forgetful }),
        },
      );
    });
    const start = () => runTopology(topology, { transport, logger, report: () => undefined, closeTransport: false, service: false, stateDir });
    const stored = async () => (await transport.streamState('SLUICE_BATCH_repeats_rep').catch(() => ({ messages: 0 }))).messages;
    let run = await start();
    await until(async () => (await stored()) >= 4, { what: 'the runs since t0 handed over' });
    await run.stop();
    const afterFirst = await stored();
    const stoppedAt = Date.now();
    run = await start();
    await until(async () => (await stored()) > afterFirst, { what: 'a new run after the restart' });
    await run.stop();
    const ids: string[] = [];
    const total = await stored();
    await new Promise<void>((resolve) => {
      const sub = transport.consume({ stream: 'SLUICE_BATCH_repeats_rep' }).subscribe((m) => {
        ids.push(m.headers['Nats-Msg-Id'] ?? '');
        if (m.seq === total) (sub.unsubscribe(), resolve());
      });
    });
    const times = ids.map((id) => Number(/schedule:rep:(\d+)\.0$/.exec(id)?.[1]));
    // Every second since t0 once, in order, though the second start ran them all again.
    expect(new Set(ids).size).toBe(ids.length);
    expect(times).toEqual(times.map((_, i) => t0 + 1000 * (i + 1)));
    expect(times.at(-1)!).toBeGreaterThan(stoppedAt - 1000);
    await transport.close();
  });
});
