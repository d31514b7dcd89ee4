import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { msgpackCodec } from '../../src/codec/msgpack-codec.js';
import type { DeadLetterRecord } from '../../src/dead-letter/dead-letter-record.js';
import { runTopology } from '../../src/runtime/run-topology.js';
import { NatsTransport } from '../../src/transport/nats/nats-transport.js';
import inventory, { STREAMS, SUBJECTS } from '../../topologies/inventory.js';
import { useNatsServer } from '../helpers/nats-server.js';
import { readStream } from '../helpers/read-stream.js';
import { retryUntilOk } from '../helpers/until.js';

const server = useNatsServer();
const SKUS = 40;
const LONG = 5_000;
const DLQ_STREAM = 'SLUICE_DLQ_inventory';

/**
 * Issue 10: an actor key past LMDB's ~1,978-byte key limit used to fail the commit of its whole
 * batch, on every restart again. Inventory bounds its keys in the schema (a SKU is the actor key,
 * an order id names its hold's timer), so a 5,000-byte SKU or order id is a dead letter naming the
 * field before it reaches the actor, and every other command is handled.
 */
describe('inventory with keys of any length, over nats-server and LMDB', () => {
  it('dead-letters a 5,000-byte SKU and a 5,000-byte order id, handles every other command, and restarts cleanly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-long-keys-'));
    const logger = pino({ level: 'silent' });
    const start = async () =>
      runTopology(inventory, { transport: await NatsTransport.connect({ servers: server().url }), logger, report: () => {}, stateDir: dir });
    const client = await NatsTransport.connect({ servers: server().url });
    try {
      let run = await start();
      const send = (subject: string, body: unknown) => retryUntilOk(() => client.publishDurable(subject, msgpackCodec.encode(body)));
      const longSku = 'S'.repeat(LONG);
      const longOrder = 'o'.repeat(LONG);
      for (let i = 0; i < SKUS; i++) await send(SUBJECTS.restock, { sku: `SKU-${i}`, quantity: 10 });
      for (let i = 0; i < SKUS; i++) {
        if (i === SKUS / 4) await send(SUBJECTS.reserve, { orderId: 'o-long-sku', sku: longSku, quantity: 1 });
        if (i === SKUS / 2) await send(SUBJECTS.reserve, { orderId: longOrder, sku: 'SKU-0', quantity: 1 });
        await send(SUBJECTS.reserve, { orderId: `o-${i}`, sku: `SKU-${i}`, quantity: 1 });
      }
      const events = await waitForMessages(client, STREAMS.output.name, SKUS);
      expect(events.map((e) => e.subject)).toEqual(Array(SKUS).fill(SUBJECTS.reserved));
      expect(events.map((e) => (msgpackCodec.decode(e.data) as { orderId: string }).orderId).sort()).toEqual(
        Array.from({ length: SKUS }, (_, i) => `o-${i}`).sort(),
      );

      const dead = (await waitForMessages(client, DLQ_STREAM, 2)).map((m) => ({ subject: m.subject, record: msgpackCodec.decode(m.data) as DeadLetterRecord }));
      const inputSeqs = await inputSequences(client);
      expect(dead.map((d) => [d.subject, d.record.error.name])).toEqual([
        ['sluice.dlq.inventory.stock', 'PayloadSchemaError'],
        ['sluice.dlq.inventory.stock', 'PayloadSchemaError'],
      ]);
      const [tooLongSku, tooLongOrder] = dead.map((d) => d.record);
      expect(tooLongSku!.error.message).toMatch(/sku: .*128/);
      expect(tooLongSku!.seq).toBe(inputSeqs.get('o-long-sku'));
      expect((msgpackCodec.decode(tooLongSku!.payload) as { sku: string }).sku).toBe(longSku); // the original bytes
      expect(tooLongOrder!.error.message).toMatch(/orderId: .*64/);

      // A restart reads on from the checkpoint: nothing is dead-lettered or published again.
      await run.stop();
      run = await start();
      await send(SUBJECTS.reserve, { orderId: 'o-after', sku: 'SKU-1', quantity: 1 });
      expect((await waitForMessages(client, STREAMS.output.name, SKUS + 1)).length).toBe(SKUS + 1);
      expect((await client.streamState(DLQ_STREAM)).messages).toBe(2);
      expect((await run.stop()).reason).toBe('stopped');
    } finally {
      await client.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

/** Order id → input stream sequence of its reserve command. */
async function inputSequences(t: NatsTransport): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const m of await readStream(t, STREAMS.input.name)) {
    const body = msgpackCodec.decode(m.data) as { orderId?: string };
    if (m.subject === SUBJECTS.reserve && body.orderId !== undefined) out.set(body.orderId, m.seq);
  }
  return out;
}

async function waitForMessages(t: NatsTransport, stream: string, count: number, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while ((await t.streamState(stream).catch(() => ({ messages: 0 }))).messages < count) {
    if (Date.now() > deadline) throw new Error(`${stream}: fewer than ${count} messages after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return readStream(t, stream);
}
