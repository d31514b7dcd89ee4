import { describe, expect, it } from 'vitest';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import { NatsTransport } from '../../../src/transport/nats/nats-transport.js';
import { uniqueName, useNatsServer } from '../../helpers/nats-server.js';
import { readStream } from '../../helpers/read-stream.js';
import { until } from '../../helpers/until.js';
import { cleanEnv, sluice } from './run-cli.js';

describe('sluice run: SIGTERM drains and logs one record of what the drain did', () => {
  const server = useNatsServer();

  it('settles the held inputs, flushes the open batch and its publish, and says so with nothing left', { timeout: 90_000 }, async () => {
    const name = uniqueName('drain').replace(/_/g, '-');
    const token = name.toUpperCase().replace(/-/g, '_');
    const client = await NatsTransport.connect({ servers: server().url });
    await client.ensureStream({ name: `${token}_OUT`, subjects: [`${name}.out`] });
    const run = sluice(['run', 'test/src/cli/fixtures/drain-topology.ts', '--nats', server().url, '--log-format', 'json'], cleanEnv({ DRAIN_TOPOLOGY: name }));
    await run.waitFor(/sluice: running/);
    try {
      // The source creates its stream as it starts reading.
      await until(async () => (await client.streamState(`${token}_IN`).catch(() => undefined)) !== undefined, { what: 'the input stream' });
      for (const n of [1, 2, 3, 4, 5]) await client.publishDurable(`${name}.in`, msgpackCodec.encode(n));
      // All five delivered and held by the open batch (unacknowledged until it is published).
      await until(
        async () => {
          const reply = await client.request(`sluice.svc.${name}.stats`, new Uint8Array(), { timeoutMs: 2_000 });
          return (JSON.parse(new TextDecoder().decode(reply.data)) as { totals: { unsettled: number } }).totals.unsettled === 5;
        },
        { what: 'five inputs held by the open batch' },
      );
      run.kill('SIGTERM');
      const done = await run.result;
      expect(done.code, done.stderr).toBe(0);
      const records = done.stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { msg: string; drain?: Record<string, unknown> });
      const drains = records.filter((r) => r.drain !== undefined);
      expect(drains).toHaveLength(1);
      expect(drains[0]!.drain).toMatchObject({ inputsSettled: 5, outputsFlushed: 1, batchesFlushed: 1, unsettledLeft: 0, outputsLeft: 0, cutOff: [] });
      expect(drains[0]!.msg).toMatch(
        /^stopped \(stopped\): drained in \d+ ms: 5 inputs settled, 1 outputs flushed, 1 batches flushed, nothing left unsettled$/,
      );
      // What the drain flushed is really there, once.
      expect((await readStream(client, `${token}_OUT`)).map((m) => msgpackCodec.decode(m.data))).toEqual([5]);
    } finally {
      await client.close();
    }
  });
});
