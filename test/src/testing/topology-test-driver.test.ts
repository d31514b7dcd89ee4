import { map } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { defineTopology } from '../../../src/runtime/define-topology.js';
import { startTestDriver, type TopologyTestDriver } from '../../../src/testing/index.js';

const greeter = defineTopology('greeter', (t) =>
  t.source<string>('greet.in').pipe(map((e) => `hello ${e.data}`), t.sink('greet.out')),
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

  it('stop() drains and reports the stats', async () => {
    const driver = await startTestDriver(greeter);
    driver.input<string>('greet.in').publish('dee');
    await driver.settle();
    const exit = await driver.stop();
    expect(exit.stats.published).toEqual({ 'greet.out': 1 });
  });
});
