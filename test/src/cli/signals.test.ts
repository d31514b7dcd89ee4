import { describe, expect, it } from 'vitest';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import { EXIT } from '../../../src/cli/exit-codes.js';
import { NatsTransport } from '../../../src/transport/nats/nats-transport.js';
import { uniqueName, useNatsServer } from '../../helpers/nats-server.js';
import { readStream } from '../../helpers/read-stream.js';
import { until } from '../../helpers/until.js';
import { cleanEnv, sluice } from './run-cli.js';

describe('sluice run: signals', () => {
  const server = useNatsServer();

  it(
    'a second signal cuts a drain short with exit 130; the next start redoes what was cut off, once; Ctrl-C (SIGINT) drains and exits 0',
    { timeout: 90_000 },
    async () => {
      const name = uniqueName('signals').replace(/_/g, '-');
      const token = name.toUpperCase().replace(/-/g, '_');
      const client = await NatsTransport.connect({ servers: server().url });
      const args = ['run', 'test/src/cli/fixtures/slow-effects-topology.ts', '--nats', server().url, '--log-format', 'json', '--drain-timeout-ms', '30000'];
      try {
        await client.ensureStream({ name: `${token}_OUT`, subjects: [`${name}.out`] });
        // Effects that take a minute: the drain waits on all five inputs, delivered and unsettled.
        const slow = sluice(args, cleanEnv({ SLOW_TOPOLOGY: name, SLOW_EFFECT_MS: '60000' }));
        await slow.waitFor(/sluice: running/);
        for (const n of [1, 2, 3, 4, 5]) await client.publishDurable(`${name}.in`, msgpackCodec.encode(n));
        await until(
          async () => {
            const reply = await client.request(`sluice.svc.${name}.stats`, new Uint8Array(), { timeoutMs: 2_000 });
            return (JSON.parse(new TextDecoder().decode(reply.data)) as { totals: { unsettled: number } }).totals.unsettled === 5;
          },
          { what: 'five inputs held by the slow effect' },
        );
        slow.kill('SIGTERM');
        await slow.waitFor(/signal received: draining/);
        slow.kill('SIGTERM');
        const cut = await slow.result;
        expect(cut.code, cut.stderr).toBe(EXIT.interrupted);
        expect(EXIT.interrupted).toBe(130);
        expect(cut.stderr).toMatch(/second signal: exiting without finishing the drain/);
        expect(await readStream(client, `${token}_OUT`)).toEqual([]);

        // Nothing was acknowledged: the next start gets all five again and publishes each once.
        const fast = sluice(args, cleanEnv({ SLOW_TOPOLOGY: name, SLOW_EFFECT_MS: '0' }));
        await fast.waitFor(/sluice: running/);
        await until(async () => (await client.streamState(`${token}_OUT`)).messages >= 5, { what: 'five outputs after the restart' });
        fast.kill('SIGINT');
        const done = await fast.result;
        expect(done.code, done.stderr).toBe(EXIT.ok);
        expect(done.stderr).toMatch(/"signal":"SIGINT","msg":"signal received: draining"/);
        const outputs = (await readStream(client, `${token}_OUT`)).map((m) => msgpackCodec.decode(m.data) as number);
        expect(outputs.sort()).toEqual([1, 2, 3, 4, 5]);
      } finally {
        await client.close();
      }
    },
  );
});
