import { describe, expect, it } from 'vitest';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import { TerminalError } from '../../../src/errors.js';
import { deadLettered, isDeadLettered, toDeadLetter } from '../../../src/dead-letter/dead-letter-record.js';
import { env } from '../../operators/realtime-fixtures.js';

describe('toDeadLetter', () => {
  it('keeps the original bytes, where the message came from, and the error name', () => {
    const raw = new Uint8Array([0x81, 0xa1, 0x61, 0x01]);
    const e = {
      ...env('shop.orders.eu', { a: 1 }, 'ORDERS:7'),
      stream: 'ORDERS',
      seq: 7,
      key: 'sku-1',
      raw,
      headers: { 'Content-Type': 'application/msgpack' },
    };
    const record = toDeadLetter(e, new TerminalError('total is negative'), 3, { operator: 'check:fraud', failedAt: 1234 });
    expect(record).toEqual({
      v: 1,
      operator: 'check:fraud',
      subject: 'shop.orders.eu',
      id: 'ORDERS:7',
      stream: 'ORDERS',
      seq: 7,
      key: 'sku-1',
      headers: { 'Content-Type': 'application/msgpack' },
      payload: raw,
      payloadSource: 'raw',
      error: { name: 'TerminalError', message: 'total is negative' },
      attempts: 3,
      failedAt: 1234,
    });
  });

  it('leaves absent fields out, so standard msgpack readers see no extension types', () => {
    const record = toDeadLetter(env('a.b', new Uint8Array([9])), new Error('x'), 1, { failedAt: 1 });
    expect(Object.keys(record).sort()).toEqual(['attempts', 'error', 'failedAt', 'headers', 'id', 'operator', 'payload', 'payloadSource', 'subject', 'v']);
    const bytes = msgpackCodec.encode(record);
    // 0xd4 is fixext 1, what msgpackr writes for undefined
    expect(bytes.includes(0xd4)).toBe(false);
    const back = msgpackCodec.decode(bytes) as typeof record;
    expect(Array.from(back.payload)).toEqual([9]);
    expect(back.payloadSource).toBe('raw');
    expect(back.operator).toBe('unknown');
  });

  it('re-encodes decoded data when the raw bytes were not kept, and says so', () => {
    const record = toDeadLetter(env('a.b', { total: 5 }), 'plain string thrown');
    expect(record.payloadSource).toBe('data');
    expect(msgpackCodec.decode(record.payload)).toEqual({ total: 5 });
    expect(record.error).toEqual({ name: 'Error', message: 'plain string thrown' });
  });

  it('records an empty payload when the data cannot be encoded either', () => {
    const record = toDeadLetter(env('a.b', { f: 1n << 80n }, 'big'), new Error('x'));
    expect(record.payloadSource).toBe('none');
    expect(record.payload.length).toBe(0);
  });

  it('deadLettered wraps the record with the envelope and the error; isDeadLettered recognises it', () => {
    const e = env('a.b', 1);
    const d = deadLettered(e, 'oops', 2, { operator: 'x:y', failedAt: 5 });
    expect(d.kind).toBe('dead-letter');
    expect(d.envelope).toBe(e);
    expect(d.error).toBeInstanceOf(Error);
    expect(d.record.attempts).toBe(2);
    expect(isDeadLettered(d)).toBe(true);
    expect(isDeadLettered(e)).toBe(false);
    expect(isDeadLettered(null)).toBe(false);
  });
});
