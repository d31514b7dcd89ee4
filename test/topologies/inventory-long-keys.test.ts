import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { MAX_ACTOR_KEY_BYTES } from '../../src/actors/actor-limits.js';
import type { ActorDeadLetter } from '../../src/actors/types.js';
import { msgpackCodec } from '../../src/codec/msgpack-codec.js';
import { runTopology } from '../../src/runtime/run-topology.js';
import { NatsTransport } from '../../src/transport/nats-transport.js';
import stockTopology, { STREAMS, SUBJECTS } from '../../topologies/stock-reservation.js';
import { useNatsServer } from '../helpers/nats-server.js';
import { readStream } from '../helpers/read-stream.js';
import { retryUntilOk } from '../helpers/until.js';

const server = useNatsServer();
const SKUS = 40;
const LONG = 5_000;
const DLQ_SUBJECT = 'sluice.dlq.stock-reservation.stock';

/**
 * Issue 10: an actor key past LMDB's ~1,978-byte key limit used to fail the commit of its whole
 * batch, on every restart again, so the topology never got past it. Now such a message is a dead
 * letter (KeyTooLongError), committed with the batch like any output, and the rest carries on.
 */
describe('stock-reservation with keys of any length, over nats-server and LMDB', () => {
  it('dead-letters a 5,000-byte SKU and a 5,000-byte order id (timer id), handles every other command, and restarts cleanly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-long-keys-'));
    process.env['SLUICE_STATE_DIR'] = dir;
    const logger = pino({ level: 'silent' });
    const start = async () => runTopology(stockTopology, { transport: await NatsTransport.connect({ servers: server().url }), logger, report: () => {} });
    const client = await NatsTransport.connect({ servers: server().url });
    const nc = (client as unknown as { nc: NatsConnection }).nc;
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
      expect(events.map((e) => (msgpackCodec.decode(e.data) as { orderId: string }).orderId).sort()).toEqual(Array.from({ length: SKUS }, (_, i) => `o-${i}`).sort());

      const dlqStream = await (await jetstreamManager(nc)).streams.find(DLQ_SUBJECT);
      const dead = (await waitForMessages(client, dlqStream, 2)).map((m) => msgpackCodec.decode(m.data) as ActorDeadLetter);
      const inputSeqs = await inputSequences(client);
      expect(dead.map((d) => d.error.name).sort()).toEqual(['KeyTooLongError', 'TerminalError']);
      const tooLong = dead.find((d) => d.error.name === 'KeyTooLongError')!;
      expect(tooLong.error.message).toContain(`on subject '${SUBJECTS.reserve}' (seq ${tooLong.seq})`);
      expect(tooLong.error.message).toContain(`is ${LONG} bytes, longer than the ${MAX_ACTOR_KEY_BYTES} bytes`);
      expect(tooLong.seq).toBe(inputSeqs.get('o-long-sku'));
      expect(tooLong.key).toBeUndefined();
      expect((msgpackCodec.decode(tooLong.payload) as { sku: string }).sku).toBe(longSku); // the original bytes
      const badTimer = dead.find((d) => d.error.name === 'TerminalError')!;
      expect(badTimer.error.message).toMatch(/setTimer: 'timerId' is 5005 bytes, longer than the 256 bytes/);
      expect(badTimer.key).toBe('SKU-0');

      // A restart reads on from the checkpoint: nothing is dead-lettered or published again.
      await run.stop();
      run = await start();
      await send(SUBJECTS.reserve, { orderId: 'o-after', sku: 'SKU-1', quantity: 1 });
      expect((await waitForMessages(client, STREAMS.output.name, SKUS + 1)).length).toBe(SKUS + 1);
      expect((await client.streamState(dlqStream)).messages).toBe(2);
      expect((await run.stop()).reason).toBe('stopped');
    } finally {
      delete process.env['SLUICE_STATE_DIR'];
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
  while ((await t.streamState(stream)).messages < count) {
    if (Date.now() > deadline) throw new Error(`${stream}: fewer than ${count} messages after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return readStream(t, stream);
}

