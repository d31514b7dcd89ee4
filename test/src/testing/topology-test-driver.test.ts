import { bufferTime, filter, map } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { toDeadLetter } from '../../../src/dead-letter/dead-letter-record.js';
import { deadLetterSubject, REPLAYED_PART } from '../../../src/dead-letter/dead-letter-subject.js';
import { encodeDeadLetter } from '../../../src/dead-letter/encode-dead-letter.js';
import { actor } from '../../../src/actors/actor.js';
import { resetActorKey } from '../../../src/actors/actor-client.js';
import { ControlNotAllowedError } from '../../../src/errors.js';
import { defineTopology } from '../../../src/runtime/define-topology.js';
import { until } from '../../helpers/until.js';
import { startTestDriver, TopologyFailedError, UnconsumedInputError, type TopologyTestDriver } from '../../../src/testing/index.js';

const greeter = defineTopology('greeter', (t) =>
  t.source<string>('greet.in').pipe(
    map((e) => `hello ${e.data}`),
    t.sink('greet.out'),
  ),
);

const drivers: TopologyTestDriver[] = [];
afterEach(async () => {
  await Promise.all(drivers.splice(0).map((d) => d.stop()));
});

describe('startTestDriver', () => {
  it('feeds input and reads what the topology published, in order, once', async () => {
    const driver = await startTestDriver(greeter);
    drivers.push(driver);
    driver.input<string>('greet.in').publish('ada');
    driver.input<string>('greet.in').publish('bob');
    expect(await driver.output<string>('greet.out').readAll()).toEqual(['hello ada', 'hello bob']);
    expect(await driver.output<string>('greet.out').readAll()).toEqual([]);
  });

  it('reads by pattern, with envelopes', async () => {
    const driver = await startTestDriver(greeter);
    drivers.push(driver);
    driver.input<string>('greet.in').publish('cy');
    const [env] = await driver.output<string>('greet.*').readEnvelopes();
    expect(env).toMatchObject({ subject: 'greet.out', data: 'hello cy', headers: { 'Content-Type': 'application/msgpack' } });
  });

  it('collects dead letters', async () => {
    const driver = await startTestDriver(greeter);
    drivers.push(driver);
    driver.input('greet.in').publishBytes(new Uint8Array([0x92, 0x01]));
    const dead = await driver.deadLetters();
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ subject: 'greet.in', error: { name: 'DecodeError' } });
  });

  it("collects every part's dead letters (sluice.dlq.<topology>.<part>), in order, but no replay markers", async () => {
    const parts = defineTopology('parts', (t) =>
      t.source<number>('parts.in').pipe(
        map((e) => {
          // As an actor's engine would: its own part subject, the same record.
          const { payload, headers } = encodeDeadLetter(toDeadLetter(e, new Error(`part ${e.data}`), 1, { operator: 'actor:counter' }));
          t.transport.publish(deadLetterSubject('parts', 'counter'), payload, { headers });
          t.transport.publish(deadLetterSubject('parts', REPLAYED_PART), new Uint8Array([0x80]));
          t.deadLetter(e, new Error(`topology ${e.data}`));
          return e.data;
        }),
        t.sink('parts.out'),
      ),
    );
    const driver = await startTestDriver(parts);
    drivers.push(driver);
    driver.input<number>('parts.in').publish(1);
    const dead = await driver.deadLetters();
    expect(dead.map((d) => [d.operator, d.error.message])).toEqual([
      ['actor:counter', 'part 1'],
      ['topology:parts', 'topology 1'],
    ]);
  });

  it('stop() drains and reports the stats', async () => {
    const driver = await startTestDriver(greeter);
    driver.input<string>('greet.in').publish('dee');
    await driver.settle();
    const exit = await driver.stop();
    expect(exit.stats.published).toEqual({ 'greet.out': 1 });
  });
});

describe('startTestDriver: any topology, clear failures', () => {
  it('fails a publish on a subject nothing reads, naming the subject', async () => {
    const d = await startTestDriver(defineTopology('typo', (t) => t.source('orders.in').pipe(t.sink('orders.out'))));
    try {
      expect(() => d.input('order.in').publish({ id: 1 })).toThrow(UnconsumedInputError);
      expect(() => d.input('order.in').publish({ id: 1 })).toThrow("test input on subject 'order.in': nothing in topology 'typo' reads it");
      d.input('orders.in').publish({ id: 1 });
      expect(await d.output('orders.out').readAll()).toEqual([{ id: 1 }]);
    } finally {
      await d.stop();
    }
  });

  it('feeds a JetStream stream source (at-least-once path) like a core subject', async () => {
    const d = await startTestDriver(
      defineTopology('js', (t) =>
        t.stream<{ n: number }>('IN', 'in.>').pipe(
          map((e) => e.data.n * 2),
          t.sink('out'),
        ),
      ),
    );
    try {
      d.input('in.a').publish({ n: 21 });
      expect(await d.output('out').readAll()).toEqual([42]);
      expect(d.running.stats.unsettled).toBe(0);
    } finally {
      await d.stop();
    }
  });

  it.each([false, true])('allowControl %s: an actor acts on a key reset only when the driver allows control', async (allowControl) => {
    const strict = actor<number, { account: string; n: number }>({
      name: 'strict',
      key: (m) => m.data.account,
      initial: () => 0,
      supervision: 'stop-key',
      handle: (sum, msg) => {
        if (msg.kind !== 'message') return sum;
        if (msg.data.n < 0) throw new Error('negative');
        return sum + msg.data.n;
      },
    });
    const d = await startTestDriver(
      defineTopology('resets', (t) => void t.actor(strict, t.stream<{ account: string; n: number }>('RESETS_IN', 'resets.in'))),
      { allowControl },
    );
    try {
      d.input('resets.in').publish({ account: 'a', n: -1 });
      // The actor's engine commits on its own time: wait for the failure that stops the key.
      const dead: string[] = [];
      await until(async () => dead.push(...(await d.deadLetters()).map((r) => r.error.name)) > 0, { what: 'the stopped key' });
      expect(dead).toEqual(['Error']);
      const reset = resetActorKey(d.transport, { topology: 'resets', actor: 'strict' }, 'a', { timeoutMs: 5_000 });
      if (allowControl) await reset;
      else await expect(reset).rejects.toThrow(ControlNotAllowedError);
    } finally {
      await d.stop();
    }
  });

  it("under supervision 'stop', an error in any part fails the next driver call, naming the part", async () => {
    const d = await startTestDriver(
      defineTopology(
        'breaks',
        (t) => [
          t.source('ok.in').pipe(t.sink('ok.out')),
          t.source<number>('bad.in').pipe(
            map((e) => {
              if (e.data > 1) throw new Error(`cannot take ${e.data}`);
              return e;
            }),
            t.sink('bad.out'),
          ),
        ],
        { supervision: 'stop' },
      ),
    );
    d.input('bad.in').publish(5);
    await expect(d.settle()).rejects.toThrow("topology 'breaks' failed in pipeline 2: cannot take 5");
    await expect(d.output('ok.out').readAll()).rejects.toThrow(TopologyFailedError);
    await d.stop();
  });

  it("with scheduler: 'manual', processing time moves only with advanceTime, and event time comes from the input", async () => {
    const d = await startTestDriver(
      defineTopology('timed', (t) =>
        t.source<string>('in').pipe(
          bufferTime(1_000, t.scheduler),
          filter((b) => b.length > 0),
          map((b) => b.map((e) => `${e.data}@${e.eventTime}`)),
          t.sink('out'),
        ),
      ),
      { scheduler: 'manual', startTimeMs: 1_700_000_000_000 },
    );
    try {
      d.input('in').publish('a', { eventTimeMs: 1_600_000_000_000 });
      await d.settle();
      expect(await d.output('out').readAll()).toEqual([]);
      await d.advanceTime(999);
      expect(await d.output('out').readAll()).toEqual([]);
      await d.advanceTime(1);
      expect(await d.output('out').readAll()).toEqual([['a@1600000000000']]);
      expect(d.now()).toBe(1_700_000_001_000);
    } finally {
      await d.stop();
    }
  });
});
