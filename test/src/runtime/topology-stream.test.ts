import { pino } from 'pino';
import { filter, map, mergeMap, NEVER, timer } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { settleMap } from '../../../operators/settle-map.js';
import { decodeEnvelope } from '../../../src/codec/decode-envelope.js';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import { decodeDeadLetter } from '../../../src/dead-letter/encode-dead-letter.js';
import { defineTopology, type Topology } from '../../../src/runtime/define-topology.js';
import { runTopology, type RunningTopology } from '../../../src/runtime/run-topology.js';
import { LocalTransport } from '../../../src/transport/local/local-transport.js';
import type { Transport } from '../../../src/transport/transport.js';
import { until } from '../../helpers/until.js';

const silent = pino({ level: 'silent' });
const runs: RunningTopology[] = [];
afterEach(async () => {
  await Promise.all(runs.splice(0).map((r) => r.stop()));
});

async function start(topology: Topology, transport: Transport, drainTimeoutMs = 5_000): Promise<RunningTopology> {
  const run = await runTopology(topology, { transport, logger: silent, report: () => undefined, closeTransport: false, service: false, drainTimeoutMs });
  runs.push(run);
  return run;
}

async function seed(transport: Transport, n: number): Promise<void> {
  await transport.ensureStream({ name: 'IN', subjects: ['in.>'] });
  for (let i = 1; i <= n; i++) await transport.publishDurable('in.x', msgpackCodec.encode({ i }));
}

const outputs = async (transport: Transport, stream = 'OUT') => (await transport.streamState(stream)).messages;

describe('t.stream: at-least-once by default', () => {
  it('acknowledges a message only after the durable sink has its publish ack, with ids from input positions', async () => {
    const transport = new LocalTransport();
    await seed(transport, 5);
    await transport.ensureStream({ name: 'OUT', subjects: ['out.>'] });
    const seen: Record<string, string>[] = [];
    transport.consume({ stream: 'OUT' }).subscribe((m) => seen.push(m.headers));
    const run = await start(
      defineTopology('copy', (t) =>
        t.stream<{ i: number }>('IN', 'in.>').pipe(
          filter((e) => e.data.i !== 3),
          map((e) => ({ ...e, data: { doubled: e.data.i * 2 } })),
          t.sink('out.x', { durable: true }),
        ),
      ),
      transport,
    );
    await until(async () => (await outputs(transport)) === 4 && run.stats.unsettled === 0);
    expect(seen.map((h) => h['Nats-Msg-Id'])).toEqual(['copy.out.x.IN:1.0', 'copy.out.x.IN:2.0', 'copy.out.x.IN:4.0', 'copy.out.x.IN:5.0']);
    await run.stop();
    // A second run of the same topology resumes after what was settled: nothing is read again.
    const again = await start(
      defineTopology('copy', (t) => t.stream('IN', 'in.>').pipe(t.sink('out.x', { durable: true }))),
      transport,
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(again.stats.total('received')).toBe(0);
    expect(await outputs(transport)).toBe(4);
  });

  it('redelivers a message whose async effect failed, and settles it when a later delivery succeeds', async () => {
    const transport = new LocalTransport();
    await seed(transport, 3);
    const attempts = new Map<number, number>();
    const done: number[] = [];
    const run = await start(
      defineTopology('flaky', (t) =>
        t.stream<{ i: number }>('IN', 'in.>', { redeliveryDelayMs: 5 }).pipe(
          settleMap({
            name: 'erp',
            supervision: 'retry',
            project: async (e) => {
              const n = (attempts.get(e.data.i) ?? 0) + 1;
              attempts.set(e.data.i, n);
              if (e.data.i === 2 && n < 3) throw new Error('erp unavailable');
              done.push(e.data.i);
              return e;
            },
          }),
        ),
      ),
      transport,
    );
    await until(() => done.length === 3 && run.stats.unsettled === 0);
    expect(done.sort()).toEqual([1, 2, 3]);
    expect(attempts.get(2)).toBe(3);
    expect(run.stats.deadLetters).toBe(0);
  });

  it('dead-letters a message after maxDeliveries failed deliveries, then acknowledges it', async () => {
    const transport = new LocalTransport();
    await seed(transport, 2);
    const dead: ReturnType<typeof decodeDeadLetter>[] = [];
    transport.subscribe('sluice.dlq.poison').subscribe((m) => dead.push(decodeDeadLetter(m.data)));
    const run = await start(
      defineTopology('poison', (t) =>
        t.stream<{ i: number }>('IN', 'in.>', { redeliveryDelayMs: 1, maxDeliveries: 3 }).pipe(
          settleMap({
            name: 'always-fails',
            supervision: 'retry',
            project: async (e) => {
              if (e.data.i === 1) throw new Error(`cannot handle ${e.data.i}`);
              return e;
            },
          }),
        ),
      ),
      transport,
    );
    await until(() => run.stats.deadLetters === 1 && run.stats.unsettled === 0);
    await until(() => dead.length === 1);
    expect(dead[0]).toMatchObject({ subject: 'in.x', stream: 'IN', seq: 1, error: { message: 'cannot handle 1' }, operator: 'settleMap:always-fails' });
    expect(decodeEnvelope({ ...dead[0]!, data: dead[0]!.payload, id: 'x', eventTime: 0 }).data).toEqual({ i: 1 });
  });

  it('pulls no more than maxUnsettled while effects are outstanding (backpressure)', async () => {
    const transport = new LocalTransport();
    await seed(transport, 50);
    let started = 0;
    const run = await start(
      defineTopology('stuck', (t) =>
        t.stream('IN', 'in.>', { maxUnsettled: 7 }).pipe(settleMap({ name: 'never', concurrency: 100, project: () => ((started += 1), NEVER) })),
      ),
      transport,
      50,
    );
    await until(() => started === 7);
    await new Promise((r) => setTimeout(r, 50));
    expect(started).toBe(7);
    expect(run.stats.unsettled).toBe(7);
  });

  it('counts and reports values that reach a sink after their input was acknowledged (a bare async mergeMap)', async () => {
    const transport = new LocalTransport();
    await seed(transport, 3);
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) });
    const run = await runTopology(
      defineTopology('leaky', (t) =>
        t.stream('IN', 'in.>').pipe(
          mergeMap((e) => timer(1).pipe(map(() => e))),
          t.sink('leaky.out'),
        ),
      ),
      { transport, logger, report: () => undefined, closeTransport: false, service: false },
    );
    runs.push(run);
    await until(() => run.stats.snapshot().unsettledOutputs === 3);
    expect(warnings.filter((w) => w.includes('after its input was acknowledged'))).toHaveLength(1);
  });

  it('ordered: true reads from startSeq and acknowledges nothing (the old read, before settlements)', async () => {
    const transport = new LocalTransport();
    await seed(transport, 4);
    const got: number[] = [];
    await start(
      defineTopology('inspect', (t) => t.stream<{ i: number }>('IN', 'in.>', { ordered: true, startSeq: 3 }).pipe(map((e) => got.push(e.data.i)))),
      transport,
    );
    await until(() => got.length === 2);
    expect(got).toEqual([3, 4]);
  });
});

describe('t.stream: a stage that throws', () => {
  it('under supervision "stop", does not acknowledge the message that made the pipeline fail: the next run gets it again', async () => {
    const transport = new LocalTransport();
    await seed(transport, 3);
    const failing = await start(
      defineTopology(
        'throws',
        (t) =>
          t.stream<{ i: number }>('IN', 'in.>').pipe(
            map((e) => {
              if (e.data.i === 2) throw new Error('bad data');
              return e;
            }),
          ),
        { supervision: 'stop' },
      ),
      transport,
    );
    const exit = await failing.done;
    expect(exit.reason).toBe('failed');
    const seen: number[] = [];
    await start(
      defineTopology('throws', (t) => t.stream<{ i: number }>('IN', 'in.>').pipe(map((e) => seen.push(e.data.i)))),
      transport,
    );
    await until(() => seen.includes(2));
    expect(seen).not.toContain(1);
  });
});
