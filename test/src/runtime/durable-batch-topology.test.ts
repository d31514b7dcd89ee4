import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { durableBatchTopology } from '../../../src/runtime/durable-batch-topology.js';
import { runTopology } from '../../../src/runtime/run-topology.js';
import { LocalTransport } from '../../../src/transport/local/local-transport.js';
import { uniqueName, useNatsServer } from '../../helpers/nats-server.js';
import { openTransport, TRANSPORT_KINDS } from '../../helpers/transports.js';
import { batchNames, checkBatchOutputs, echoFlush, publishPlan, readBatchOutputs } from '../exactly-once/durable-batch-model.js';

const server = useNatsServer();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** A pino logger that keeps the messages of warn and above. */
function recordingLogger(): { logger: pino.Logger; warnings: string[] } {
  const warnings: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push((JSON.parse(line) as { msg: string }).msg) });
  return { logger, warnings };
}

describe.each(TRANSPORT_KINDS)('durableBatchTopology on the %s transport', (kind) => {
  it('runs under runTopology: creates its streams, flushes on the trigger, stops on drain', async () => {
    const names = batchNames(uniqueName('DTIN'), uniqueName('DTOUT'));
    const stateDir = mkdtempSync(join(tmpdir(), 'sluice-dbt-'));
    cleanups.push(() => rmSync(stateDir, { recursive: true, force: true }));
    const topology = durableBatchTopology('crm', {
      name: 'prefs',
      stateDir,
      source: { stream: names.input },
      triggerSubjects: [`${names.inSubject}.eod`],
      ensureStreams: [
        { name: names.input, subjects: [`${names.inSubject}.>`] },
        { name: names.output, subjects: [names.outSubject] },
      ],
      flush: echoFlush(names.outSubject),
      reportEveryMs: 0,
    });
    const transport = await openTransport(kind, server);
    const { logger, warnings } = recordingLogger();
    const run = await runTopology(topology, { transport, logger, report: () => undefined, service: false, deadLetterStream: false });
    cleanups.push(async () => void (await run.stop()));
    // The streams exist once the topology started; wait for them before publishing.
    for (let i = 0; i < 100; i++) {
      if (
        await transport.streamState(names.output).then(
          () => true,
          () => false,
        )
      )
        break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const plan = await publishPlan(transport, names, [300, 'eod']);
    for (let i = 0; i < 200; i++) {
      if ((await transport.streamState(names.output)).messages >= 300) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(checkBatchOutputs('crm.prefs.batch.', plan, await readBatchOutputs(transport, names.output))).toEqual([]);
    const exit = await run.stop();
    expect(exit.reason).toBe('stopped');
    expect(warnings.filter((m) => m.startsWith('durability off: in-process transport'))).toHaveLength(kind === 'local' ? 1 : 0);
  });
});

it('on the in-process transport keeps no state across runs: a second run starts from its empty stream', async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'sluice-dbt-'));
  cleanups.push(() => rmSync(stateDir, { recursive: true, force: true }));
  for (const run of [1, 2]) {
    const names = batchNames('DTIN', 'DTOUT');
    const topology = durableBatchTopology('crm', {
      name: 'prefs',
      stateDir,
      source: { stream: names.input },
      triggerSubjects: [`${names.inSubject}.eod`],
      ensureStreams: [
        { name: names.input, subjects: [`${names.inSubject}.>`] },
        { name: names.output, subjects: [names.outSubject] },
      ],
      flush: echoFlush(names.outSubject),
      reportEveryMs: 0,
    });
    const transport = new LocalTransport();
    const running = await runTopology(topology, {
      transport,
      logger: pino({ level: 'silent' }),
      report: () => undefined,
      service: false,
      deadLetterStream: false,
    });
    while (
      !(await transport.streamState(names.output).then(
        () => true,
        () => false,
      ))
    )
      await new Promise((r) => setTimeout(r, 10));
    const plan = await publishPlan(transport, names, [20 * run, 'eod']);
    while ((await transport.streamState(names.output)).messages < 20 * run) await new Promise((r) => setTimeout(r, 10));
    // Batch 1 again on the second run: nothing of the first run's store was kept.
    expect(checkBatchOutputs('crm.prefs.batch.', plan, await readBatchOutputs(transport, names.output))).toEqual([]);
    expect((await running.stop()).reason).toBe('stopped');
  }
});
