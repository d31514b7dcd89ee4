import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { msgpackCodec } from '../../src/codec/msgpack-codec.js';
import { runTopology } from '../../src/runtime/run-topology.js';
import { NatsTransport } from '../../src/transport/nats/nats-transport.js';
import inventory from '../../topologies/inventory.js';
import { useNatsServer } from '../helpers/nats-server.js';
import { until } from '../helpers/until.js';

/** The README's "Subscribing from another service" example, run as written against a running topology. */
const server = useNatsServer();
const dir = mkdtempSync(join(tmpdir(), 'sluice-readme-py-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Until the codec writes integers of 2^32 and above as integers (issue 11, item 1), Python sees
// expiresAt as a float; from then on it must print as an integer.
const LARGE_INTEGERS_ARE_INTEGERS = [0xcf, 0xd3].includes(msgpackCodec.encode(2 ** 32 + 1)[0]!);
const EPOCH_MS = LARGE_INTEGERS_ARE_INTEGERS ? String.raw`\d{13}` : String.raw`\d{13}(?:\.0)?`;

function readmeExample(): string {
  const readme = readFileSync(resolve(import.meta.dirname, '../../README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Subscribing from another service'));
  const code = /```python\n([\s\S]*?)```/.exec(section)?.[1];
  if (code === undefined) throw new Error('README has no python example under "Subscribing from another service"');
  return code;
}

describe('README: Subscribing from another service', () => {
  it('the Python example reads the reservations from JetStream and acknowledges each one', async () => {
    const script = join(dir, 'billing.py');
    writeFileSync(script, readmeExample());
    const transport = await NatsTransport.connect({ servers: server().url });
    const run = await runTopology(inventory, {
      transport,
      logger: pino({ level: 'silent' }),
      report: () => undefined,
      closeTransport: false,
      stateDir: join(dir, 'state'),
    });
    try {
      const jsm = await jetstreamManager(transport.nc);
      await until(
        async () =>
          jsm.streams.info('SHOP_STOCK').then(
            () => true,
            () => false,
          ),
        { what: 'the input stream' },
      );
      const send = (subject: string, v: unknown) =>
        transport.publishDurable(subject, msgpackCodec.encode(v), { headers: { 'Content-Type': 'application/msgpack' } });
      await send('shop.stock.restock', { sku: 'TEE', quantity: 10 });
      await send('shop.stock.reserve', { orderId: 'o1', sku: 'TEE', quantity: 2 });
      await send('shop.stock.reserve', { orderId: 'o2', sku: 'TEE', quantity: 3 });
      const { hostname, port } = new URL(server().url);
      const { stdout } = await promisify(execFile)('/usr/bin/python3', [script], {
        env: { ...process.env, NATS_ADDR: `${hostname}:${port}`, MAX_MESSAGES: '2' },
        timeout: 20_000,
      });
      const lines = stdout.trim().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(new RegExp(String.raw`^inventory\.actor-stock\.\d+\.\d+: order o1 holds 2 x TEE until ${EPOCH_MS} \(8 left\)$`));
      expect(lines[1]).toMatch(new RegExp(String.raw`^inventory\.actor-stock\.\d+\.\d+: order o2 holds 3 x TEE until ${EPOCH_MS} \(5 left\)$`));
      // Both acknowledged: the durable consumer has nothing pending or unacknowledged.
      const info = await jsm.consumers.info('SHOP_STOCK_EVENTS', 'billing');
      expect([info.num_ack_pending, info.ack_floor.stream_seq]).toEqual([0, 2]);
    } finally {
      await run.stop();
      await transport.close();
    }
  }, 40_000);
});
