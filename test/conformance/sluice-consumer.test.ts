import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { headers as makeHeaders } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { useNatsServer } from '../helpers/nats-server.js';
import { startConsumer } from './start-consumer.js';

/**
 * The Python consumer itself must be able to fail: hand-made MessagePack bytes (not Sluice's
 * codec) that break the contract are reported, valid ones are not.
 */
const server = useNatsServer();
const dir = mkdtempSync(join(tmpdir(), 'sluice-consumer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const contract = {
  subjects: [
    {
      subject: 'check.out',
      direction: 'out',
      headers: [{ name: 'Content-Type', presence: 'always', description: '' }],
      payload: { type: 'object', properties: { ts: { type: 'integer' }, raw: { 'x-msgpack': 'bin' } }, required: ['ts'] },
    },
  ],
};

/** `{ ts: <2^40 as uint64 or as float64>, raw?: bin }`, byte by byte. */
function message(ts: 'int' | 'float', raw: 'bin' | 'str' | 'none'): Uint8Array {
  const out = [raw === 'none' ? 0x81 : 0x82, 0xa2, 0x74, 0x73];
  const v = new DataView(new ArrayBuffer(8));
  if (ts === 'int') v.setBigUint64(0, 2n ** 40n);
  else v.setFloat64(0, 2 ** 40);
  out.push(ts === 'int' ? 0xcf : 0xcb, ...new Uint8Array(v.buffer));
  if (raw === 'bin') out.push(0xa3, 0x72, 0x61, 0x77, 0xc4, 0x02, 0x01, 0x02);
  if (raw === 'str') out.push(0xa3, 0x72, 0x61, 0x77, 0xa2, 0x68, 0x69);
  return new Uint8Array(out);
}

async function consume(strictIntegers: boolean, send: (publish: (bytes: Uint8Array, headers: boolean) => void) => void) {
  const file = join(dir, `contract-${strictIntegers}.json`);
  writeFileSync(file, JSON.stringify(contract));
  const consumer = await startConsumer(file, server().url, { strictIntegers });
  const nc = await connect({ servers: server().url });
  send((bytes, withHeaders) => {
    const h = makeHeaders();
    if (withHeaders) h.set('Content-Type', 'application/msgpack');
    nc.publish('check.out', bytes, withHeaders ? { headers: h } : {});
  });
  await nc.flush();
  await nc.close();
  // No wait needed: the consumer's closing PING/PONG reads everything the server forwarded before it.
  return consumer.finish();
}

describe('sluice_consumer.py', () => {
  it('accepts valid messages and reports float integers (when strict), wrong binary types and missing headers', async () => {
    const { code, summary } = await consume(true, (publish) => {
      publish(message('int', 'bin'), true);
      publish(message('float', 'none'), true);
      publish(message('int', 'str'), true);
      publish(message('int', 'none'), false);
    });
    expect(summary.received).toEqual({ 'check.out': 4 });
    expect(summary.invalid).toEqual([
      { subject: 'check.out', contract: 'check.out', problems: ["ts: 1099511627776.0 is not of type 'integer'"] },
      { subject: 'check.out', contract: 'check.out', problems: ["raw: 'hi' is not MessagePack bin"] },
      { subject: 'check.out', contract: 'check.out', problems: ['header Content-Type missing'] },
    ]);
    expect(code).toBe(1);
  }, 30_000);

  it('without --strict-integers, a float that is a whole number passes (JSON Schema counts 3.0 as an integer)', async () => {
    const { code, summary } = await consume(false, (publish) => publish(message('float', 'none'), true));
    expect(summary).toEqual({ received: { 'check.out': 1 }, invalid: [] });
    expect(code).toBe(0);
  }, 30_000);
});
