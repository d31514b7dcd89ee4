import { pino } from 'pino';
import { map, of, throwError, type Observable } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { msgpackCodec } from '../../src/codec/msgpack-codec.js';
import { deadLetterStreamName } from '../../src/dead-letter/dead-letter-subject.js';
import { decodeDeadLetter } from '../../src/dead-letter/encode-dead-letter.js';
import { TerminalError } from '../../src/errors.js';
import { defineTopology } from '../../src/runtime/define-topology.js';
import type { TopologyContext } from '../../src/runtime/types.js';
import { runTopology, type TopologyExit } from '../../src/runtime/run-topology.js';
import { LocalTransport } from '../../src/transport/local/local-transport.js';
import { startTestDriver, type TopologyTestDriver } from '../../src/testing/topology-test-driver.js';
import { poll, type PollConfig, type PollResult } from '../../operators/poll.js';
import { settleMap } from '../../operators/settle-map.js';
import { readStream } from '../helpers/read-stream.js';
import { until } from '../helpers/until.js';

/*
 * poll in a running topology (runTopology on the in-process transport, a manual clock): one bad
 * row is dead-lettered once and the poll goes on past it, as a stream message would be.
 */
interface Row {
  id: number;
}

const drivers: TopologyTestDriver[] = [];
afterEach(async () => {
  await Promise.all(drivers.splice(0).map((d) => d.stop()));
});

/** A table of rows 1..n read `page` at a time after a cursor (the last id read); every fetch recorded. */
function table(n: number, page: number) {
  const fetchedFrom: number[] = [];
  const fetch = (after: number): Observable<PollResult<Row, number>> => {
    fetchedFrom.push(after);
    const items = Array.from({ length: n }, (_, i) => ({ id: i + 1 })).filter((r) => r.id > after);
    const taken = items.slice(0, page);
    return of({ items: taken, cursor: taken.at(-1)?.id ?? after, more: items.length > page });
  };
  return { fetch, fetchedFrom };
}

/** A cursor kept in a variable (stands for a KV bucket). */
function cursorStore(): { cursor: PollConfig<number>['cursor']; saved: () => number | undefined } {
  let saved: number | undefined;
  return {
    cursor: { initial: 0, load: () => of(saved), save: (c) => of((saved = c)) },
    saved: () => saved,
  };
}

async function start(build: (t: TopologyContext) => Observable<unknown>): Promise<{ driver: TopologyTestDriver; exit: () => TopologyExit | undefined }> {
  const driver = await startTestDriver(
    defineTopology('pollbad', (t) => [build(t)]),
    { scheduler: 'manual' },
  );
  drivers.push(driver);
  let exit: TopologyExit | undefined;
  void driver.running.done.then((e) => (exit = e));
  return { driver, exit: () => exit };
}

const rowsOut = async (driver: TopologyTestDriver): Promise<number[]> => (await driver.output<Row>('rows.out').readAll()).map((r) => r.id);

function badRow(bad: (id: number) => boolean) {
  return (r: Row): Row => {
    if (bad(r.id)) throw new TypeError(`row ${r.id} is bad`);
    return r;
  };
}

describe('poll in a topology: a bad item is dead-lettered once and the poll goes on', () => {
  it("a plain map throwing on item 3 of 6 (default 'resume'): item 3 dead-lettered once with its bytes and reason, the cursor moves past it, 4-6 arrive once, the run goes on (was: no dead letter, the poll re-read from the start and the run failed)", async () => {
    const rows = table(6, 4);
    const kv = cursorStore();
    const { driver, exit } = await start((t) =>
      poll(rows.fetch, { name: 'rows', everyMs: 1_000, scheduler: t.scheduler, cursor: kv.cursor }).pipe(
        t.untilStopped(),
        map(badRow((id) => id === 3)),
        t.sink('rows.out'),
      ),
    );
    await driver.advanceTime(10_000);
    expect(await rowsOut(driver)).toEqual([1, 2, 4, 5, 6]);
    const dead = await driver.deadLetters();
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({
      operator: 'pipeline 1',
      subject: 'poll:rows',
      id: 'poll:rows:0:2',
      payloadSource: 'data',
      error: { name: 'TypeError', message: 'row 3 is bad' },
      attempts: 1,
    });
    expect(msgpackCodec.decode(dead[0]!.payload)).toEqual({ id: 3 });
    // Past the bad row: the cursor is saved at the end, no round is read twice.
    expect(kv.saved()).toBe(6);
    expect(rows.fetchedFrom.slice(0, 2)).toEqual([0, 4]);
    expect(rows.fetchedFrom.every((c) => c === 0 || c === 4 || c === 6)).toBe(true);
    expect(rows.fetchedFrom.filter((c) => c === 0)).toHaveLength(1);
    expect(exit()).toBeUndefined();
    expect(driver.running.stats.deadLetters).toBe(1);
    // Later rows still arrive.
    await driver.advanceTime(10_000);
    expect(await rowsOut(driver)).toEqual([]);
    expect(await driver.deadLetters()).toEqual([]);
    expect(exit()).toBeUndefined();
  });

  it("settleMap's project throwing on item 3 of 6: the same, naming the operator; nothing restarts", async () => {
    const rows = table(6, 4);
    const kv = cursorStore();
    const { driver, exit } = await start((t) =>
      poll(rows.fetch, { name: 'rows', everyMs: 1_000, scheduler: t.scheduler, cursor: kv.cursor }).pipe(
        t.untilStopped(),
        settleMap({ name: 'erp', concurrency: 2, project: async (r: Row) => badRow((id) => id === 3)(r) }),
        t.sink('rows.out'),
      ),
    );
    await driver.advanceTime(10_000);
    expect((await rowsOut(driver)).sort((a, b) => a - b)).toEqual([1, 2, 4, 5, 6]);
    const dead = await driver.deadLetters();
    expect(dead.map((d) => [d.operator, d.id, d.error.message, d.attempts])).toEqual([['settleMap:erp', 'poll:rows:0:2', 'row 3 is bad', 1]]);
    expect(msgpackCodec.decode(dead[0]!.payload)).toEqual({ id: 3 });
    expect(kv.saved()).toBe(6);
    expect(rows.fetchedFrom.filter((c) => c === 0)).toHaveLength(1);
    expect(exit()).toBeUndefined();
  });

  it("more bad items than restart.maxConsecutiveFailures (10), with good ones between: each dead-lettered once, the run goes on (the poll's items count as progress)", async () => {
    const rows = table(60, 10);
    const bad = (id: number): boolean => id % 4 === 0;
    const { driver, exit } = await start((t) =>
      poll(rows.fetch, { name: 'rows', everyMs: 1_000, scheduler: t.scheduler, cursor: { initial: 0 } }).pipe(
        t.untilStopped(),
        map(badRow(bad)),
        t.sink('rows.out'),
      ),
    );
    await driver.advanceTime(10_000);
    const all = Array.from({ length: 60 }, (_, i) => i + 1);
    expect(await rowsOut(driver)).toEqual(all.filter((id) => !bad(id)));
    const dead = await driver.deadLetters();
    expect(dead.map((d) => (msgpackCodec.decode(d.payload) as Row).id)).toEqual(all.filter(bad));
    expect(exit()).toBeUndefined();
  });

  it("a TerminalError under 'retry' supervision is dead-lettered at once; another failure is tried again (only that item, with the retry policy's backoff) and dead-lettered with its attempts when the policy gives up", async () => {
    const rows = table(6, 6);
    const kv = cursorStore();
    const tries: Record<number, number[]> = {};
    const { driver, exit } = await start((t) =>
      poll(rows.fetch, {
        name: 'rows',
        everyMs: 1_000,
        scheduler: t.scheduler,
        cursor: kv.cursor,
        retry: { maxAttempts: 3, initialDelayMs: 100 },
      }).pipe(
        t.untilStopped(),
        settleMap({
          name: 'erp',
          supervision: 'retry',
          // Synchronous, so each try fails at the virtual time it starts.
          project: (r: Row) => {
            (tries[r.id] ??= []).push(t.scheduler.now());
            if (r.id === 2) throw new TerminalError('row 2 can never be posted');
            if (r.id === 3) throw new Error('erp unavailable');
            return of(r);
          },
        }),
        t.sink('rows.out'),
      ),
    );
    await driver.advanceTime(10_000);
    expect(await rowsOut(driver)).toEqual([1, 4, 5, 6]);
    // row 3: at 0, then 100 and 200 ms later (doubling): three tries in all; everything else once
    expect(tries).toEqual({ 1: [0], 2: [0], 3: [0, 100, 300], 4: [0], 5: [0], 6: [0] });
    const dead = await driver.deadLetters();
    expect(dead.map((d) => [d.id, d.operator, d.error.name, d.attempts])).toEqual([
      ['poll:rows:0:1', 'settleMap:erp', 'TerminalError', 1],
      ['poll:rows:0:2', 'settleMap:erp', 'Error', 3],
    ]);
    // The round is saved once its last item is done (dead-lettered), not before.
    expect(kv.saved()).toBe(6);
    expect(rows.fetchedFrom.filter((c) => c === 0)).toHaveLength(1);
    expect(exit()).toBeUndefined();
  });

  it('a fetch that fails is retried (not dead-lettered), and maxConsecutiveFailures still counts fetch failures', async () => {
    const rows = table(3, 3);
    let calls = 0;
    const errors: string[] = [];
    const { driver, exit } = await start((t) =>
      poll((after: number) => (++calls <= 2 ? throwError(() => new Error(`db down ${calls}`)) : rows.fetch(after)), {
        name: 'rows',
        everyMs: 1_000,
        scheduler: t.scheduler,
        cursor: { initial: 0 },
        maxConsecutiveFailures: 3,
        onError: (e, n) => errors.push(`${e.message}/${n}`),
      }).pipe(t.untilStopped(), t.sink('rows.out')),
    );
    await driver.advanceTime(2_500);
    expect(await rowsOut(driver)).toEqual([1, 2, 3]);
    expect(errors).toEqual(['db down 1/1', 'db down 2/2']);
    expect(await driver.deadLetters()).toEqual([]);
    expect(exit()).toBeUndefined();
  });

  it('an item too big for a record: its first bytes, marked truncated, with the position it was read from', async () => {
    const big = new Uint8Array(2 * 1024 * 1024).fill(7);
    const { driver, exit } = await start((t) =>
      poll((after: number) => of({ items: after === 0 ? [new Uint8Array([1]), big, new Uint8Array([3])] : [], cursor: 3 }), {
        name: 'blobs',
        everyMs: 1_000,
        scheduler: t.scheduler,
        cursor: { initial: 0 },
      }).pipe(
        t.untilStopped(),
        map((b) => {
          if (b.length > 1) throw new TypeError('too big to handle');
          return b[0];
        }),
        t.sink('rows.out'),
      ),
    );
    await driver.advanceTime(3_000);
    expect(await driver.output<number>('rows.out').readAll()).toEqual([1, 3]);
    const [dead, ...more] = await driver.deadLetters();
    expect(more).toEqual([]);
    expect(dead).toMatchObject({ subject: 'poll:blobs', id: 'poll:blobs:0:1', payloadSource: 'raw', payloadTruncated: true, payloadBytes: big.length });
    expect(dead!.payload.length).toBeGreaterThan(0);
    expect(dead!.payload.length).toBeLessThan(driver.transport.maxPayloadBytes);
    expect(dead!.payload.every((b) => b === 7)).toBe(true);
    expect(exit()).toBeUndefined();
  });

  it('a deterministic poll re-read after a crash dead-letters the item again under the same id: the dead-letter stream keeps one record', async () => {
    const transport = new LocalTransport();
    const runOnce = async (deterministic: boolean, topology: string): Promise<void> => {
      const run = await runTopology(
        defineTopology(topology, (t) =>
          // No saved cursor: every run reads the table from the start, as after a crash before the save.
          poll(table(4, 4).fetch, { name: 'rows', deterministic, everyMs: 60_000, cursor: { initial: 0 } }).pipe(
            t.untilStopped(),
            map(badRow((id) => id === 3)),
            t.sink('rows.out'),
          ),
        ),
        { transport, logger: pino({ level: 'silent' }), report: () => undefined, closeTransport: false, service: false },
      );
      await until(() => run.stats.deadLetters === 1, { what: 'row 3 dead-lettered', everyMs: 5, timeoutMs: 5_000 });
      await run.stop();
    };
    const records = async (topology: string) => (await readStream(transport, deadLetterStreamName(topology))).map((m) => decodeDeadLetter(m.data));
    try {
      for (const deterministic of [true, false]) {
        const topology = deterministic ? 'pollbad-det' : 'pollbad-nondet';
        await runOnce(deterministic, topology);
        await runOnce(deterministic, topology);
        expect((await records(topology)).map((r) => r.id)).toEqual(deterministic ? ['poll:rows:0:2'] : ['poll:rows:0:2', 'poll:rows:0:2']);
      }
    } finally {
      await transport.close();
    }
  });
});
