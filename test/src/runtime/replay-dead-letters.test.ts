import { pino } from 'pino';
import { asyncScheduler, filter, map, type SchedulerLike } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import { REPLAY_HEADERS } from '../../../src/dead-letter/dead-letter-record.js';
import { readDeadLetters } from '../../../src/dead-letter/read-dead-letters.js';
import type { Envelope } from '../../../src/envelope/envelope.js';
import { TerminalError } from '../../../src/errors.js';
import { defineTopology } from '../../../src/runtime/define-topology.js';
import { replayDeadLetters } from '../../../src/runtime/replay-dead-letters.js';
import { runTopology } from '../../../src/runtime/run-topology.js';
import { LocalTransport } from '../../../src/transport/local/local-transport.js';
import { NatsTransport } from '../../../src/transport/nats/nats-transport.js';
import { uniqueName, useNatsServer } from '../../helpers/nats-server.js';
import { until } from '../../helpers/until.js';

// Odd numbers are bad input: dead-lettered every time they come, replays included.
const picky = defineTopology('picky', (t) =>
  t.source<number>('n.>').pipe(
    filter((e) => (e.data % 2 === 1 ? (t.deadLetter(e, new TerminalError(`odd: ${e.data}`)), false) : true)),
    map((e) => e.data),
    t.sink('n.even'),
  ),
);

describe('replayDeadLetters', () => {
  it('re-publishes the original bytes and headers with the record named, filtered by subject, reason and time; never twice', async () => {
    const transport = new LocalTransport();
    let clock = 1_000;
    const seen: Envelope<Uint8Array>[] = [];
    const sub = transport.subscribe('n.*').subscribe((e) => seen.push(e));
    // The async scheduler with a clock the test sets, so each record's failedAt is known.
    const scheduler = Object.assign(Object.create(asyncScheduler) as SchedulerLike, { now: () => clock });
    const run = await runTopology(picky, { transport, logger: pino({ level: 'silent' }), closeTransport: false, scheduler });
    await transport.flush();
    for (const [subject, n] of [
      ['n.a', 1],
      ['n.b', 2],
      ['n.a', 3],
      ['n.c', 5],
    ] as const) {
      clock += 1_000;
      transport.publish(subject, msgpackCodec.encode(n), { headers: { 'Content-Type': 'application/msgpack', 'X-Trace': `t${n}` } });
      await transport.flush();
    }
    seen.length = 0;

    const first = await replayDeadLetters(transport, 'picky', { subject: 'n.a', now: () => 9 });
    expect(first).toMatchObject({
      replayed: 2,
      skipped: 0,
      failed: [],
      records: [
        { seq: 1, subject: 'n.a', attempt: 1 },
        { seq: 2, subject: 'n.a', attempt: 1 },
      ],
    });
    await transport.flush();
    expect(
      seen
        .filter((e) => e.subject === 'n.a')
        .map((e) => [msgpackCodec.decode(e.data), e.headers['X-Trace'], e.headers[REPLAY_HEADERS.of], e.headers[REPLAY_HEADERS.attempt]]),
    ).toEqual([
      [1, 't1', 'SLUICE_DLQ_picky/1', '1'],
      [3, 't3', 'SLUICE_DLQ_picky/2', '1'],
    ]);

    // Still odd, so both failed again: parked, with the record they replayed and the attempt.
    const page = await readDeadLetters(transport, 'picky');
    expect(page.entries.map((e) => [e.seq, e.status, e.record.subject, e.record.replayOf, e.record.replayAttempt])).toEqual([
      [1, 'replayed', 'n.a', undefined, undefined],
      [2, 'replayed', 'n.a', undefined, undefined],
      [3, 'dead', 'n.c', undefined, undefined],
      [6, 'parked', 'n.a', 'SLUICE_DLQ_picky/1', 1],
      [7, 'parked', 'n.a', 'SLUICE_DLQ_picky/2', 1],
    ]);

    // "Replay all" twice: the first replays what is left (n.c); the second finds nothing to do.
    const all = await replayDeadLetters(transport, 'picky');
    expect(all).toMatchObject({ replayed: 1, skipped: 4, records: [{ seq: 3, subject: 'n.c' }] }); // 1, 2 replayed; 6, 7 parked
    await transport.flush();
    const size = (await transport.streamState('SLUICE_DLQ_picky')).messages;
    expect(await replayDeadLetters(transport, 'picky')).toMatchObject({ replayed: 0, skipped: 6 }); // and n.c parked too
    await transport.flush();
    expect((await transport.streamState('SLUICE_DLQ_picky')).messages).toBe(size);

    // Parked records go again only when asked, as attempt 2.
    seen.length = 0;
    expect(await replayDeadLetters(transport, 'picky', { includeParked: true, reason: 'ODD: 3' })).toMatchObject({
      replayed: 1,
      records: [{ seq: 7, attempt: 2 }],
    });
    await transport.flush();
    expect(seen.filter((e) => e.subject === 'n.a').map((e) => [e.headers[REPLAY_HEADERS.of], e.headers[REPLAY_HEADERS.attempt]])).toEqual([
      ['SLUICE_DLQ_picky/7', '2'],
    ]);

    // Time range on failedAt (the scheduler's clock): n.a/3 failed at 4000.
    const inRange = await readDeadLetters(transport, 'picky', { sinceMs: 4_000, untilMs: 4_001 });
    expect(inRange.entries.map((e) => [e.seq, e.record.error.message])).toEqual([[2, 'odd: 3']]);
    await expect(replayDeadLetters(transport, 'picky', { limit: 0 })).rejects.toThrow(/'limit' must be an integer >= 1/);
    sub.unsubscribe();
    await run.stop();
    await transport.close();
  });
});

describe('replayDeadLetters with a limit', () => {
  it('"replay all" in pieces: each call goes on with the oldest records not yet replayed', async () => {
    const transport = new LocalTransport();
    const run = await runTopology(picky, { transport, logger: pino({ level: 'silent' }), closeTransport: false });
    await transport.flush();
    for (const n of [1, 3, 5, 7, 9]) transport.publish('n.x', msgpackCodec.encode(n), { headers: { 'Content-Type': 'application/msgpack' } });
    await transport.flush();
    const pieces: number[][] = [];
    for (let i = 0; i < 4; i++) {
      pieces.push((await replayDeadLetters(transport, 'picky', { limit: 2 })).records.map((r) => r.seq));
      await transport.flush();
    }
    expect(pieces).toEqual([[1, 2], [3, 4], [5], []]);
    await run.stop();
    await transport.close();
  });
});

describe('replayDeadLetters over a real nats-server', () => {
  const server = useNatsServer();

  it('a replay repeated after a crash between the publish and its marker is stored once', async () => {
    const name = uniqueName('replayonce').replace(/_/g, '-');
    const stream = uniqueName('RIN');
    const transport = await NatsTransport.connect({ servers: server().url });
    await transport.ensureStream({ name: stream, subjects: [`${name}.in`] });
    const run = await runTopology(
      defineTopology(name, (t) =>
        t.stream<number>(stream, `${name}.in`).pipe(
          filter((e) => (e.data % 2 === 1 ? (t.deadLetter(e, new TerminalError(`odd: ${e.data}`)), false) : true)),
          map((e) => e.data),
          t.sink(`${name}.out`),
        ),
      ),
      { transport, logger: pino({ level: 'silent' }), closeTransport: false },
    );
    try {
      await transport.publishDurable(`${name}.in`, msgpackCodec.encode(7));
      await until(async () => (await transport.streamState(`SLUICE_DLQ_${name}`)).messages === 1, { what: 'the dead letter' });

      await expect(
        replayDeadLetters(transport, name, {
          faults: {
            afterPublish: () => {
              throw new Error('crash after publish');
            },
          },
        }),
      ).rejects.toThrow('crash after publish');
      expect((await transport.streamState(stream)).messages).toBe(2);
      const again = await replayDeadLetters(transport, name);
      expect(again).toMatchObject({ replayed: 1, records: [{ seq: 1, attempt: 1, to: { stream, seq: 2, duplicate: true } }] });
      expect((await transport.streamState(stream)).messages).toBe(2);
      expect(await replayDeadLetters(transport, name)).toMatchObject({ replayed: 0 });
      expect((await transport.streamState(stream)).messages).toBe(2);
    } finally {
      await run.stop();
      await transport.close();
    }
  });
});
