import { pino } from 'pino';
import { defer, map, scan, throwError, type Observable } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { keyed } from '../../../operators/keyed.js';
import { microBatchProcess } from '../../../operators/micro-batch-process.js';
import { settleMap } from '../../../operators/settle-map.js';
import { decodeEnvelope } from '../../../src/codec/decode-envelope.js';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import type { DeadLetterRecord } from '../../../src/dead-letter/dead-letter-record.js';
import type { Envelope } from '../../../src/envelope/envelope.js';
import { InvalidConfigError, TopologyFailedError } from '../../../src/errors.js';
import { deadLetterStreamName } from '../../../src/dead-letter/dead-letter-subject.js';
import { decodeDeadLetter } from '../../../src/dead-letter/encode-dead-letter.js';
import { defineTopology, type Topology } from '../../../src/runtime/define-topology.js';
import { runTopology, type RunningTopology, type RunTopologyOptions, type TopologyExit } from '../../../src/runtime/run-topology.js';
import { supervised } from '../../../src/runtime/supervised.js';
import type { TopologyContext } from '../../../src/runtime/types.js';
import { startTestDriver } from '../../../src/testing/topology-test-driver.js';
import { LocalTransport } from '../../../src/transport/local/local-transport.js';
import { uniqueName, useNatsServer } from '../../helpers/nats-server.js';
import { readStream } from '../../helpers/read-stream.js';
import { TRANSPORT_KINDS, useTransport } from '../../helpers/transports.js';
import { until } from '../../helpers/until.js';

const silent = pino({ level: 'silent' });
const runs: RunningTopology[] = [];
afterEach(async () => {
  await Promise.all(runs.splice(0).map((r) => r.stop()));
});

type In = { i: number };
const N = 500;
const bad = (i: number): boolean => i % 50 === 0;
const GOOD = Array.from({ length: N }, (_, k) => k + 1).filter((i) => !bad(i));
const BAD = Array.from({ length: N }, (_, k) => k + 1).filter(bad);

function assertGood(e: Envelope<In>): Envelope<In> {
  if (bad(e.data.i)) throw new TypeError(`bad input ${e.data.i}`);
  return e;
}

describe.each(TRANSPORT_KINDS)('pipeline supervision over %s', (kind) => {
  const server = useNatsServer();
  const transport = useTransport(kind, server);

  /** A fresh input stream with N messages, an output stream, and a topology name. */
  async function setup(): Promise<{ name: string; stream: string; subject: string; out: string; outStream: string }> {
    const name = uniqueName('sup');
    const stream = `IN_${name}`;
    const subject = `${name}.in`;
    const out = `${name}.out`;
    const outStream = `OUT_${name}`;
    await transport().ensureStream({ name: stream, subjects: [`${subject}.>`] });
    await transport().ensureStream({ name: outStream, subjects: [out] });
    for (let i = 1; i <= N; i++) await transport().publishDurable(`${subject}.x`, msgpackCodec.encode({ i }));
    return { name, stream, subject, out, outStream };
  }

  async function start(
    topology: Topology,
    options: Partial<RunTopologyOptions> = {},
  ): Promise<{ run: RunningTopology; ended: () => TopologyExit | undefined }> {
    const run = await runTopology(topology, {
      transport: transport(),
      logger: silent,
      report: () => undefined,
      closeTransport: false,
      service: false,
      ...options,
    });
    runs.push(run);
    let exit: TopologyExit | undefined;
    void run.done.then((e) => (exit = e));
    return { run, ended: () => exit };
  }

  const outputs = async (outStream: string): Promise<number[]> => (await readStream(transport(), outStream)).map((m) => (msgpackCodec.decode(m.data) as In).i);
  const deadLetters = async (topology: string): Promise<DeadLetterRecord[]> =>
    (await readStream(transport(), deadLetterStreamName(topology))).map((m) => decodeDeadLetter(m.data));

  /** Every good output once, every bad input in the dead letters once with its reason, the run still going. */
  async function expectResumed(
    s: { name: string; stream: string; subject: string; outStream: string },
    run: RunningTopology,
    ended: () => TopologyExit | undefined,
    operator: string,
    reason: (i: number) => string,
  ): Promise<void> {
    await until(
      async () => (await transport().streamState(s.outStream)).messages >= GOOD.length && run.stats.deadLetters >= BAD.length && run.stats.unsettled === 0,
      {
        what: `${GOOD.length} outputs and ${BAD.length} dead letters`,
      },
    );
    expect(ended()).toBeUndefined();
    expect([...new Set(await outputs(s.outStream))].sort((a, b) => a - b)).toEqual(GOOD);
    const dead = await deadLetters(s.name);
    expect(dead.map((d) => (msgpackCodec.decode(d.payload) as In).i).sort((a, b) => a - b)).toEqual(BAD);
    for (const d of dead) {
      const i = (msgpackCodec.decode(d.payload) as In).i;
      expect(d).toMatchObject({ operator, subject: `${s.subject}.x`, stream: s.stream, seq: i, payloadSource: 'raw', error: { message: reason(i) } });
    }
    // The run carries on: a later message is still processed.
    await transport().publishDurable(`${s.subject}.x`, msgpackCodec.encode({ i: N + 1 }));
    await until(async () => (await outputs(s.outStream)).includes(N + 1), { what: 'a message after the failures' });
    expect(ended()).toBeUndefined();
  }

  it("a plain RxJS map that throws on 1 message in 50: each bad one is dead-lettered once with its reason, every good one arrives, the run goes on (default 'resume')", async () => {
    const s = await setup();
    const { run, ended } = await start(
      defineTopology(s.name, (t) => t.stream<In>(s.stream, `${s.subject}.>`).pipe(map(assertGood), t.sink(s.out, { durable: true }))),
    );
    await expectResumed(s, run, ended, 'pipeline 1', (i) => `bad input ${i}`);
  });

  it('values a restarted pipeline had handed to a durable sink (one publish at a time, the rest queued) still arrive', async () => {
    const s = await setup();
    const { run, ended } = await start(
      defineTopology(s.name, (t) => t.stream<In>(s.stream, `${s.subject}.>`).pipe(map(assertGood), t.sink(s.out, { durable: true, maxInFlight: 1 }))),
    );
    await expectResumed(s, run, ended, 'pipeline 1', (i) => `bad input ${i}`);
  });

  it("a Sluice operator's user function (settleMap's project) that throws on 1 message in 50: the same, naming the operator", async () => {
    const s = await setup();
    const { run, ended } = await start(
      defineTopology(s.name, (t) =>
        t
          .stream<In>(s.stream, `${s.subject}.>`)
          .pipe(settleMap({ name: 'enrich', concurrency: 4, project: async (e) => assertGood(e) }), t.sink(s.out, { durable: true })),
      ),
    );
    await expectResumed(s, run, ended, 'settleMap:enrich', (i) => `bad input ${i}`);
  });

  it("keyed's handle that throws on 1 message in 50: the same, naming the operator", async () => {
    const s = await setup();
    const { run, ended } = await start(
      defineTopology(s.name, (t) =>
        t
          .stream<In>(s.stream, `${s.subject}.>`)
          .pipe(
            keyed({ name: 'by-ten', key: (e) => String(e.data.i % 10), maxInFlight: 4, mailboxSize: 1_000, handle: async (e: Envelope<In>) => assertGood(e) }),
            t.sink(s.out, { durable: true }),
          ),
      ),
    );
    await expectResumed(s, run, ended, 'keyed:by-ten', (i) => `bad input ${i}`);
  });

  it("supervision 'stop' ends the run with TopologyFailedError naming the part, and leaves the message unacknowledged", async () => {
    const s = await setup();
    // A short ack wait: what the first run had been sent and not acknowledged comes again soon.
    const read = (t: TopologyContext) => t.stream<In>(s.stream, `${s.subject}.>`, { ackWaitMs: 1_000 });
    const { run } = await start(defineTopology(s.name, (t) => read(t).pipe(map(assertGood), t.sink(s.out, { durable: true })), { supervision: 'stop' }));
    const exit = await run.done;
    expect(exit.reason).toBe('failed');
    expect(exit.error).toBeInstanceOf(TopologyFailedError);
    expect(exit.error).toMatchObject({ topology: s.name, part: 'pipeline 1', message: `topology '${s.name}' failed in pipeline 1: bad input 50` });
    expect(exit.failedPart).toBe('pipeline 1');
    expect(await deadLetters(s.name)).toEqual([]);
    // The next run (resuming supervision) gets message 50 again: it was never acknowledged.
    await start(defineTopology(s.name, (t) => read(t).pipe(map(assertGood), t.sink(s.out, { durable: true }))));
    await until(async () => (await deadLetters(s.name)).length === BAD.length, { what: 'every bad message dead-lettered by the second run' });
    expect((await deadLetters(s.name)).map((d) => d.seq ?? 0).sort((a, b) => a - b)).toEqual(BAD);
  });

  it("supervision 'stop' on one operator ends the run naming the operator; 'stop' on one pipeline (supervised) leaves the others resuming", async () => {
    const s = await setup();
    const { run } = await start(
      defineTopology(s.name, (t) =>
        t
          .stream<In>(s.stream, `${s.subject}.>`)
          .pipe(settleMap({ name: 'strict', supervision: 'stop', project: async (e) => assertGood(e) }), t.sink(s.out, { durable: true })),
      ),
    );
    const exit = await run.done;
    expect(exit.error).toBeInstanceOf(TopologyFailedError);
    expect(exit.error).toMatchObject({ part: 'settleMap:strict', message: `topology '${s.name}' failed in settleMap:strict: bad input 50` });

    const s2 = await setup();
    const lenient: Observable<unknown>[] = [];
    const { run: two } = await start(
      defineTopology(s2.name, (t: TopologyContext) => {
        const in$ = t.stream<In>(s2.stream, `${s2.subject}.>`);
        lenient.push(in$.pipe(map(assertGood), t.sink(s2.out, { durable: true })));
        return [lenient[0]!, supervised(in$.pipe(map((e) => (e.data.i === 120 ? assertGood({ ...e, data: { i: 100 } }) : e))), 'stop')];
      }),
    );
    const exit2 = await two.done;
    expect(exit2.failedPart).toBe('pipeline 2');
    expect(exit2.error?.message).toBe(`topology '${s2.name}' failed in pipeline 2: bad input 100`);
  });

  it('a map that throws on every message ends the run after restart.maxConsecutiveFailures: it dead-letters that many, it does not loop through the stream', async () => {
    const s = await setup();
    const { run } = await start(
      defineTopology(s.name, (t) =>
        t.stream<In>(s.stream, `${s.subject}.>`).pipe(
          map((e) => {
            throw new TypeError(`always bad ${e.data.i}`);
          }),
        ),
      ),
      { restart: { maxConsecutiveFailures: 6 } },
    );
    const exit = await run.done;
    expect(exit.reason).toBe('failed');
    expect(exit.error).toBeInstanceOf(TopologyFailedError);
    expect(exit.error?.message).toBe(
      `topology '${s.name}' failed in pipeline 1: 6 failures in a row with no message processed in between (restart.maxConsecutiveFailures); last: always bad 6`,
    );
    // Restarted at once each time (the consumer kept): messages 1..6 dead-lettered in order, the rest left for the next run.
    expect((await deadLetters(s.name)).map((d) => d.seq)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('restarts plain RxJS state (a scan starts over), as Akka restart: said in docs/guarantees.md', async () => {
    const s = await setup();
    const { run } = await start(
      defineTopology(s.name, (t) =>
        t.stream<In>(s.stream, `${s.subject}.>`).pipe(
          map(assertGood),
          scan((n, e) => ({ ...e, data: { i: n.data.i + 1 } }), { data: { i: 0 } } as Envelope<In>),
          t.sink(s.out, { durable: true }),
        ),
      ),
    );
    await until(async () => (await transport().streamState(s.outStream)).messages >= GOOD.length && run.stats.unsettled === 0);
    const counts = await outputs(s.outStream);
    // Counting restarts after each dead-lettered message: 1..49 ten times.
    expect(Math.max(...counts)).toBe(49);
  });

  it("microBatchProcess whose process throws dead-letters the batch's inputs (resume) and goes on", async () => {
    const s = await setup();
    const { run, ended } = await start(
      defineTopology(s.name, (t) =>
        t.stream<In>(s.stream, `${s.subject}.>`).pipe(
          microBatchProcess({
            maxCount: 10,
            maxWaitMs: 20,
            maxBufferedCount: 100,
            process: async (batch: Envelope<In>[]) => {
              if (batch.some((e) => e.data.i === 50)) throw new Error('batch with 50');
              return batch.length;
            },
          }),
        ),
      ),
    );
    await until(() => run.stats.deadLetters >= 1 && run.stats.unsettled === 0 && run.stats.total('received') >= N);
    const dead = await deadLetters(s.name);
    expect(dead.length).toBeGreaterThanOrEqual(1);
    expect(dead.every((d) => d.operator === 'microBatchProcess' && d.error.message === 'batch with 50')).toBe(true);
    expect(dead.map((d) => d.seq)).toContain(50);
    expect(ended()).toBeUndefined();
  });
});

describe('pipeline restarts outside any message', () => {
  it('restarts a pipeline that failed with no message to blame after a backoff, and a drain does not wait for the backoff', async () => {
    const transport = new LocalTransport();
    let subscriptions = 0;
    const run = await runTopology(
      defineTopology('flaky-start', (t) =>
        defer(() => (++subscriptions === 1 ? throwError(() => new Error('not ready yet')) : t.source<In>('flaky.in'))).pipe(
          map(assertGood),
          t.sink('flaky.out'),
        ),
      ),
      { transport, logger: silent, report: () => undefined, service: false, restart: { initialDelayMs: 50 } },
    );
    await until(() => subscriptions === 2);
    const outputs: number[] = [];
    transport.subscribe('flaky.out').subscribe((m) => outputs.push((msgpackCodec.decode(m.data) as In).i));
    transport.publish('flaky.in', msgpackCodec.encode({ i: 1 }));
    await until(() => outputs.length === 1);

    const waiting = await runTopology(
      defineTopology('slow-restart', () => throwError(() => new Error('always'))),
      {
        transport: new LocalTransport(),
        logger: silent,
        report: () => undefined,
        service: false,
        restart: { initialDelayMs: 60_000, maxDelayMs: 60_000 },
      },
    );
    await new Promise((r) => setTimeout(r, 20));
    const startedAt = Date.now();
    const exit = await waiting.stop();
    expect(exit.reason).toBe('stopped');
    expect(Date.now() - startedAt).toBeLessThan(2_000);
    expect((await run.stop()).reason).toBe('stopped');
  });

  it('ends the run at once on an InvalidConfigError no message can be blamed for (waiting would not fix it)', async () => {
    const run = await runTopology(
      defineTopology('misconfigured', () => throwError(() => new InvalidConfigError('stream', 'subjects', 'overlap'))),
      {
        transport: new LocalTransport(),
        logger: silent,
        report: () => undefined,
        service: false,
      },
    );
    const exit = await run.done;
    expect(exit.error).toBeInstanceOf(TopologyFailedError);
    expect(exit.error?.message).toBe("topology 'misconfigured' failed in pipeline 1: stream: 'subjects' overlap");
    expect(exit.elapsedMs).toBeLessThan(1_000);
  });
});

describe('pipeline supervision in the test driver (core subjects)', () => {
  it('dead-letters what a throwing map could not handle, with its reason and bytes, and goes on', async () => {
    const driver = await startTestDriver(defineTopology('drv', (t) => t.source<In>('drv.in').pipe(map(assertGood), t.sink('drv.out'))));
    try {
      const input = driver.input<In>('drv.in');
      for (let i = 1; i <= 120; i++) input.publish({ i });
      expect((await driver.output<In>('drv.out').readAll()).map((o) => o.i)).toEqual(Array.from({ length: 120 }, (_, k) => k + 1).filter((i) => !bad(i)));
      const dead = await driver.deadLetters();
      expect(dead.map((d) => decodeEnvelope<In>({ subject: d.subject, headers: d.headers, data: d.payload, id: d.id, eventTime: 0 }).data.i)).toEqual([
        50, 100,
      ]);
      expect(dead.map((d) => ({ operator: d.operator, subject: d.subject, reason: d.error.message }))).toEqual([
        { operator: 'pipeline 1', subject: 'drv.in', reason: 'bad input 50' },
        { operator: 'pipeline 1', subject: 'drv.in', reason: 'bad input 100' },
      ]);
    } finally {
      await driver.stop();
    }
  });

  it("ends the run with TopologyFailedError under supervision 'stop'", async () => {
    const driver = await startTestDriver(
      defineTopology('drv-stop', (t) => t.source<In>('drv.in').pipe(map(assertGood), t.sink('drv.out')), { supervision: 'stop' }),
    );
    driver.input<In>('drv.in').publish({ i: 50 });
    const exit = await driver.running.done;
    expect(exit.error).toBeInstanceOf(TopologyFailedError);
    expect(exit.error?.message).toBe("topology 'drv-stop' failed in pipeline 1: bad input 50");
    await driver.stop();
  });
});
