import { describe, expect, it } from 'vitest';
import { deadLetterMessage } from '../../../src/dead-letter/dead-letter-message.js';
import { decodeDeadLetter, DEAD_LETTER_HEADERS } from '../../../src/dead-letter/encode-dead-letter.js';
import { makeEnvelope } from '../../../src/envelope/make-envelope.js';

describe('deadLetterMessage', () => {
  const envelope = { ...makeEnvelope({ subject: 'shop.orders', data: new Uint8Array(10_000).fill(7), id: 'o-1' }), stream: 'ORDERS', seq: 42 };

  it('is the record of toDeadLetter, encoded with its headers', () => {
    const { payload, headers, record } = deadLetterMessage(envelope, new TypeError('bad total'), { operator: 'actor:stock', failedAt: 5, attempts: 3 });
    expect(decodeDeadLetter(payload)).toEqual(record);
    expect(record).toMatchObject({
      operator: 'actor:stock',
      subject: 'shop.orders',
      stream: 'ORDERS',
      seq: 42,
      attempts: 3,
      failedAt: 5,
      error: { name: 'TypeError', message: 'bad total' },
    });
    expect(headers[DEAD_LETTER_HEADERS.seq]).toBe('42');
  });

  it('cuts the payload to fit maxBytes and says so', () => {
    const { payload, record } = deadLetterMessage(envelope, new Error('x'), { operator: 'durableBatch:b', failedAt: 5, maxBytes: 4_096 });
    expect(payload.length).toBeLessThan(4_096);
    expect(record).toMatchObject({ payloadTruncated: true, payloadBytes: 10_000, attempts: 1 });
  });
});
