import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import { decodeDeadLetter } from '../../../src/dead-letter/encode-dead-letter.js';
import { HEADERS } from '../../../src/envelope/envelope.js';
import { InvalidConfigError } from '../../../src/errors.js';
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

interface Reading {
  sensor: string;
  at: number;
  v: number;
}

// Sensor readings summed per sensor in 10-second tumbling windows of their own `at` time.
const sums = (stateDir: string, extra: { idleAdvanceMs?: number; name?: string; prefix?: string; sizeMs?: number } = {}) =>
  defineTopology(extra.name ?? 'sensor-sums', (t) =>
    t.durableWindow<Reading, { sum: number }>(
      {
        name: 'sums',
        kind: 'tumbling',
        sizeMs: extra.sizeMs ?? 10_000,
        allowedLatenessMs: 1_000,
        watermark: { maxOutOfOrderMs: 2_000, idleAdvanceMs: extra.idleAdvanceMs },
        eventTime: (e) => e.data.at,
        keyOf: (e) => e.data.sensor,
        aggregate: { seed: () => ({ sum: 0 }), add: (acc, e) => ({ sum: acc.sum + e.data.v }) },
        subject: `${extra.prefix ?? 'sensors'}.sums`,
        lateSubject: `${extra.prefix ?? 'sensors'}.late`,
        emits: {
          stream: `${(extra.prefix ?? 'sensors').toUpperCase()}_SUMS`,
          subjects: [`${extra.prefix ?? 'sensors'}.sums`, `${extra.prefix ?? 'sensors'}.late`],
        },
        stateDir,
        reportEveryMs: 0,
      },
      {
        values: t.stream<Reading>(`${(extra.prefix ?? 'sensors').toUpperCase()}_READINGS`, `${extra.prefix ?? 'sensors'}.readings.>`),
        closes: t.stream(`${(extra.prefix ?? 'sensors').toUpperCase()}_CLOSES`, `${extra.prefix ?? 'sensors'}.close`),
      },
    ),
  );

describe('t.durableWindow: durable windows as a part of a topology', () => {
  it('describe shows values and closes handed over exactly-once, and the window part exactly-once', () => {
    const text = formatTopologyDescription(describeTopology(sums('/nonexistent')));
    expect(text).toContain('SENSORS_READINGS (sensors.readings.>) -> sluice.window.sensor-sums.sums.in, sluice.window.sensor-sums.sums.close  exactly-once');
    expect(text).toContain('durable-window sums  reads its own stream SLUICE_WINDOW_sensor-sums_sums');
    expect(text).toContain('durable-window sums -> sensors.sums, sensors.late  exactly-once');
  });

  it('rejects a result subject its emits stream does not capture', () => {
    const bad = defineTopology('bad', (t) =>
      t.durableWindow(
        {
          name: 'w',
          kind: 'tumbling',
          sizeMs: 10,
          aggregate: { seed: () => 0, add: (a: number) => a + 1 },
          subject: 'x.sums',
          lateSubject: 'x.late',
          emits: { stream: 'X', subjects: ['x.late'] },
        },
        { values: t.stream('IN', 'in') },
      ),
    );
    expect(() => describeTopology(bad)).toThrow(InvalidConfigError);
    expect(() => describeTopology(bad)).toThrow(/'subject' "x.sums" is not captured by emits.subjects/);
  });

  it('folds per key across a restart, closes on the watermark and on a close message, reports a late reading once', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'sluice-mount-window-'));
    dirs.push(stateDir);
    const transport = await NatsTransport.connect({ servers: server().url });
    await transport.ensureStream({ name: 'SENSORS_READINGS', subjects: ['sensors.readings.>'] });
    await transport.ensureStream({ name: 'SENSORS_CLOSES', subjects: ['sensors.close'] });
    const logger = pino({ level: 'silent' });
    const start = () => runTopology(sums(stateDir), { transport, logger, report: () => undefined, closeTransport: false, service: false });
    const count = async (s: string) => (await transport.streamState(s).catch(() => ({ messages: 0 }))).messages;
    const read = (sensor: string, at: number, v: number) => transport.publishDurable(`sensors.readings.${sensor}`, msgpackCodec.encode({ sensor, at, v }));

    await read('a', 1_000, 1);
    await read('b', 2_000, 10);
    await read('a', 9_000, 2);
    let run = await start();
    await until(async () => (await count('SLUICE_WINDOW_sensor-sums_sums')) === 3, { what: 'three values handed over' });
    await run.stop();
    expect(await count('SENSORS_SUMS')).toBe(0);

    // Restarted: the open windows come back from LMDB. 14 s - 2 s out of order = 12 s >= 10 s + 1 s lateness.
    run = await start();
    await read('a', 14_000, 100);
    await until(async () => (await count('SENSORS_SUMS')) === 2, { what: 'the first windows' });
    await read('b', 3_000, 1000); // its window closed: late
    await transport.publishDurable('sensors.close', msgpackCodec.encode({}), { headers: { [HEADERS.eventTime]: '60000' } });
    await until(async () => (await count('SENSORS_SUMS')) === 4, { what: 'the late record and the closed window' });
    await run.stop();

    const out = (await readStream(transport, 'SENSORS_SUMS')).map((m): Record<string, unknown> => ({
      ...(msgpackCodec.decode(m.data) as Record<string, unknown>),
      subject: m.subject,
    }));
    expect(out.map((o) => [o.subject, o['key'], o['start'] ?? o['eventTime'], o['value'] ?? o['missed'], o['closedBy'] ?? null])).toEqual([
      ['sensors.sums', 'a', 0, { sum: 3 }, 'event'],
      ['sensors.sums', 'b', 0, { sum: 10 }, 'event'],
      ['sensors.late', 'b', 3_000, [{ start: 0, end: 10_000 }], null],
      ['sensors.sums', 'a', 10_000, { sum: 100 }, 'close'],
    ]);
    await transport.close();
  });

  it('closes on idle: with no new value, idle ticks written into its stream advance the watermark', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'sluice-mount-window-idle-'));
    dirs.push(stateDir);
    const transport = await NatsTransport.connect({ servers: server().url });
    await transport.ensureStream({ name: 'IDLE_READINGS', subjects: ['idle.readings.>'] });
    await transport.publishDurable('idle.readings.z', msgpackCodec.encode({ sensor: 'z', at: 1_000_000, v: 5 }));
    const run = await runTopology(sums(stateDir, { idleAdvanceMs: 1_000, sizeMs: 500, name: 'idle-sums', prefix: 'idle' }), {
      transport,
      logger: pino({ level: 'silent' }),
      report: () => undefined,
      closeTransport: false,
      service: false,
    });
    try {
      // Past the 0.5 s window + 1 s lateness + 2 s out of order: 3-4 idle ticks of 1 s.
      await until(async () => (await transport.streamState('IDLE_SUMS').catch(() => ({ messages: 0 }))).messages > 0, {
        what: 'the idle-closed window',
        timeoutMs: 30_000,
      });
      const own = await readStream(transport, 'SLUICE_WINDOW_idle-sums_sums');
      expect(own.filter((m) => m.subject.endsWith('.tick')).length).toBeGreaterThanOrEqual(3);
      const last = (await readStream(transport, 'IDLE_SUMS')).at(-1)!;
      expect(msgpackCodec.decode(last.data)).toMatchObject({ key: 'z', start: 1_000_000, end: 1_000_500, value: { sum: 5 }, closedBy: 'idle' });
    } finally {
      await run.stop();
      await transport.close();
    }
  }, 40_000);
});

describe('t.durableWindow: dead letters', () => {
  it('a value without a usable event time or with a key too long goes to the dead letters at the hand-over; one whose add throws, from the window', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'sluice-mount-window-dl-'));
    dirs.push(stateDir);
    const transport = await NatsTransport.connect({ servers: server().url });
    await transport.ensureStream({ name: 'PICKY', subjects: ['picky.>'] });
    const topology = defineTopology('picky-window', (t) =>
      t.durableWindow<{ at?: number; v: number; k?: string }, number>(
        {
          name: 'w',
          kind: 'tumbling',
          sizeMs: 10,
          stateDir,
          reportEveryMs: 0,
          eventTime: (e) => e.data.at as number,
          keyOf: (e) => e.data.k ?? '',
          aggregate: {
            seed: () => 0,
            add: (a, e) => {
              if (e.data.v === 3) throw new Error('three is not allowed');
              return a + e.data.v;
            },
          },
          subject: 'picky-out.sums',
          lateSubject: 'picky-out.late',
          emits: { stream: 'PICKY_OUT', subjects: ['picky-out.*'] },
        },
        { values: t.stream('PICKY', 'picky.>') },
      ),
    );
    await transport.publishDurable('picky.x', msgpackCodec.encode({ v: 1 }));
    await transport.publishDurable('picky.x', msgpackCodec.encode({ at: 1, v: 3 }));
    await transport.publishDurable('picky.x', msgpackCodec.encode({ at: 2, v: 4 }));
    await transport.publishDurable('picky.x', msgpackCodec.encode({ at: 3, v: 6, k: 'é'.repeat(501) }));
    await transport.publishDurable('picky.x', msgpackCodec.encode({ at: 25, v: 5 }));
    const run = await runTopology(topology, { transport, logger: pino({ level: 'silent' }), report: () => undefined, closeTransport: false, service: false });
    try {
      const count = async (s: string) => (await transport.streamState(s).catch(() => ({ messages: 0 }))).messages;
      await until(async () => (await count('PICKY_OUT')) === 1 && (await count('SLUICE_DLQ_picky-window')) === 3, {
        what: 'one window and three dead letters',
      });
      const dead = (await readStream(transport, 'SLUICE_DLQ_picky-window')).map((m) => decodeDeadLetter(m.data));
      // Hand-over dead letters and the window's own are published by different parts: compare as a set.
      expect(dead.map((d) => `${d.operator} ${d.error.name}: ${d.error.message}`).sort()).toEqual([
        'durableWindow:w Error: three is not allowed',
        "durableWindow:w InvalidConfigError: durableWindow: 'eventTime' must return a finite epoch ms, got undefined",
        "durableWindow:w InvalidConfigError: durableWindow: 'keyOf' must return a string of at most 1000 UTF-8 bytes, got 501 characters",
      ]);
      expect(msgpackCodec.decode((await readStream(transport, 'PICKY_OUT'))[0]!.data)).toMatchObject({ start: 0, end: 10, count: 1, value: 4 });
    } finally {
      await run.stop();
      await transport.close();
    }
  });
});
