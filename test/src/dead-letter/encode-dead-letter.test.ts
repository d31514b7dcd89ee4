import { describe, expect, it } from 'vitest';
import { toDeadLetter } from '../../../src/dead-letter/dead-letter-record.js';
import { makeEnvelope } from '../../../src/envelope/make-envelope.js';
import { deadLetterStreamName, deadLetterSubject } from '../../../src/dead-letter/dead-letter-subject.js';
import { DEAD_LETTER_HEADERS, decodeDeadLetter, encodeDeadLetter } from '../../../src/dead-letter/encode-dead-letter.js';

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

describe('dead-letter records never exceed max_payload', () => {
  const big = (n: number) => new Uint8Array(n).map((_, i) => i % 251);

  it('keeps a record that fits whole, and cuts one that does not to the limit, saying so and where the original is', () => {
    const small = toDeadLetter(makeEnvelope({ subject: 'in.x', data: null, raw: big(1000), stream: 'IN', seq: 7 }), new Error('bad'), 1, { failedAt: 1 });
    expect(encodeDeadLetter(small, { maxBytes: 4096 }).record).toBe(small);

    const record = toDeadLetter(makeEnvelope({ subject: 'in.x', data: null, raw: big(10_000), stream: 'IN', seq: 7 }), new Error('x'.repeat(20_000)), 1, {
      failedAt: 1,
    });
    const { payload, headers } = encodeDeadLetter(record, { maxBytes: 4096 });
    const headerBytes = Object.entries(headers).reduce((n, [k, v]) => n + k.length + v.length + 4, 12);
    expect(payload.length + headerBytes).toBeLessThanOrEqual(4096 - 512);
    const back = decodeDeadLetter(payload);
    expect(back).toMatchObject({ subject: 'in.x', stream: 'IN', seq: 7, payloadTruncated: true, payloadBytes: 10_000 });
    expect(back.payload.length).toBeGreaterThan(1000);
    expect(back.payload).toEqual(record.payload.subarray(0, back.payload.length));
    expect(headers[DEAD_LETTER_HEADERS.truncated]).toBe('true');
  });

  it('fits whatever the size of the original headers and error message', () => {
    const env = makeEnvelope({ subject: 'in.x', data: null, raw: big(5000), headers: { 'Content-Type': 'application/json', 'X-Huge': 'h'.repeat(8000) } });
    const { payload, headers } = encodeDeadLetter(toDeadLetter(env, new Error('e'.repeat(50_000))), { maxBytes: 2048 });
    const headerBytes = Object.entries(headers).reduce((n, [k, v]) => n + k.length + v.length + 4, 12);
    expect(payload.length + headerBytes).toBeLessThanOrEqual(2048 - 512);
    expect(decodeDeadLetter(payload)).toMatchObject({ headers: { 'Content-Type': 'application/json' }, payloadTruncated: true, payloadBytes: 5000 });
  });

  it("copies the input's traceparent/tracestate to the dead letter's headers, also when its other headers are dropped to fit", () => {
    const trace = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'rojo=00f067aa0ba902b7' };
    const env = makeEnvelope({ subject: 'in.x', data: null, raw: big(10), headers: trace });
    expect(encodeDeadLetter(toDeadLetter(env, new Error('bad'))).headers).toMatchObject(trace);
    const huge = makeEnvelope({
      subject: 'in.x',
      data: null,
      raw: big(5000),
      headers: { ...trace, 'Content-Type': 'application/json', 'X-Huge': 'h'.repeat(8000) },
    });
    const { payload, headers } = encodeDeadLetter(toDeadLetter(huge, new Error('bad')), { maxBytes: 2048 });
    expect(headers).toMatchObject(trace);
    expect(decodeDeadLetter(payload).headers).toEqual({ ...trace, 'Content-Type': 'application/json' });
    const plain = encodeDeadLetter(toDeadLetter(makeEnvelope({ subject: 'in.x', data: null, raw: big(10) }), new Error('bad'))).headers;
    expect(plain['traceparent']).toBeUndefined();
  });
});
