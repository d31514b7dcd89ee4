import { describe, expect, it } from 'vitest';
import { toDeadLetter } from '../../../src/dead-letter/dead-letter-record.js';
import { makeEnvelope } from '../../../src/envelope/make-envelope.js';
import { DEAD_LETTER_HEADERS, decodeDeadLetter, deadLetterStreamName, deadLetterSubject, encodeDeadLetter } from '../../../src/runtime/dead-letter.js';

describe('dead-letter messages', () => {
  it('names the subject and stream after the topology', () => {
    expect(deadLetterSubject('order-routing')).toBe('sluice.dlq.order-routing');
    expect(deadLetterStreamName('order-routing')).toBe('SLUICE_DLQ_order-routing');
  });

  it('round-trips the record and copies where it came from into one-line headers', () => {
    const env = makeEnvelope({ subject: 'shop.orders.web', data: null, raw: new Uint8Array([9, 8, 7]), stream: 'ORDERS', seq: 42 });
    const record = toDeadLetter(env, new Error('line one\nline two'), 2, { operator: 'route:x', failedAt: 5 });
    const { payload, headers } = encodeDeadLetter(record);
    expect(decodeDeadLetter(payload)).toEqual(record);
    expect(headers).toEqual({
      'Content-Type': 'application/msgpack',
      [DEAD_LETTER_HEADERS.subject]: 'shop.orders.web',
      [DEAD_LETTER_HEADERS.stream]: 'ORDERS',
      [DEAD_LETTER_HEADERS.seq]: '42',
      [DEAD_LETTER_HEADERS.error]: 'Error',
      [DEAD_LETTER_HEADERS.reason]: 'line one line two',
    });
  });

  it('refuses bytes that are not a record', () => {
    expect(() => decodeDeadLetter(new Uint8Array([0x01]))).toThrow(/not a Sluice dead-letter record/);
  });
});
