import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../../src/errors.js';
import { durableBatchTopology } from '../../../src/exactly-once/durable-batch-topology.js';
import { runTopology } from '../../../src/runtime/run-topology.js';
import { LocalTransport } from '../../../src/transport/local-transport.js';
import { NatsTransport } from '../../../src/transport/nats-transport.js';
import { uniqueName, useNatsServer } from '../../helpers/nats-server.js';
import { batchNames, checkBatchOutputs, echoFlush, publishPlan, readBatchOutputs } from './durable-batch-model.js';

const server = useNatsServer();
const silent = pino({ level: 'silent' });
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

describe('durableBatchTopology', () => {
  it('runs under runTopology: creates its streams, flushes on the trigger, stops on drain', async () => {
    const names = batchNames(uniqueName('DTIN'), uniqueName('DTOUT'));
    const stateDir = mkdtempSync(join(tmpdir(), 'sluice-dbt-'));
    cleanups.push(() => rmSync(stateDir, { recursive: true, force: true }));
    const topology = durableBatchTopology('crm', {
      name: 'prefs', stateDir, source: { stream: names.input }, triggerSubjects: [`${names.inSubject}.eod`],
      ensureStreams: [{ name: names.input, subjects: [`${names.inSubject}.>`] }, { name: names.output, subjects: [names.outSubject] }],
      flush: echoFlush(names.outSubject), reportEveryMs: 0,
    });
    const transport = await NatsTransport.connect({ servers: server().url });
    const run = await runTopology(topology, { transport, logger: silent, report: () => undefined, service: false, deadLetterStream: false });
    cleanups.push(async () => void (await run.stop()));
    const nc: NatsConnection = await connect({ servers: server().url, noAsyncTraces: true });
    cleanups.push(() => nc.close());
    // The streams exist once the topology started; wait for them before publishing.
    const jsm = await jetstreamManager(nc);
    for (let i = 0; i < 100; i++) {
      if (await jsm.streams.info(names.output).then(() => true, () => false)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const plan = await publishPlan(nc, names, [300, 'eod']);
    for (let i = 0; i < 200; i++) {
      if ((await jsm.streams.info(names.output)).state.messages >= 300) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const exit = await run.stop();
    expect(exit.reason).toBe('stopped');
    expect(checkBatchOutputs('crm.prefs.batch.', plan, await readBatchOutputs(nc, names.output))).toEqual([]);
  });

  it('fails the run with the in-process transport (no durable stream)', async () => {
    const topology = durableBatchTopology('crm', { name: 'prefs', source: { stream: 'S' }, triggerSubjects: ['t'], flush: () => undefined });
    const run = await runTopology(topology, { transport: new LocalTransport(), logger: silent, report: () => undefined });
    const exit = await run.done;
    expect(exit.reason).toBe('failed');
    expect(exit.error).toBeInstanceOf(InvalidConfigError);
  });
});
