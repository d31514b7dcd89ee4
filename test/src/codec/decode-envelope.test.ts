import { describe, expect, it } from 'vitest';
import { carriesDecodedData, decodeEnvelope } from '../../../src/codec/decode-envelope.js';
import { jsonCodec } from '../../../src/codec/json-codec.js';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import { makeEnvelope } from '../../../src/envelope/make-envelope.js';
import { DecodeError } from '../../../src/errors.js';

describe('decodeEnvelope', () => {
  it('decodes with the codec the Content-Type header names and keeps the original bytes', () => {
    const bytes = jsonCodec.encode({ a: 1 });
    const env = makeEnvelope({ subject: 'x.y', data: bytes, headers: { 'Content-Type': 'application/json' } });
    const decoded = decodeEnvelope<{ a: number }>(env);
    expect(decoded.data).toEqual({ a: 1 });
    expect(decoded.raw).toBe(bytes);
    expect(decoded.subject).toBe('x.y');
  });

  it('falls back to msgpack without a header', () => {
    const env = makeEnvelope({ subject: 'x', data: msgpackCodec.encode([1, 2]) });
    expect(decodeEnvelope(env).data).toEqual([1, 2]);
  });

  it('raises a DecodeError naming subject, stream and sequence for garbage', () => {
    const env = makeEnvelope({ subject: 'shop.orders.web', data: Uint8Array.from([0xc1]), stream: 'ORDERS', seq: 42 });
    let caught: unknown;
    try {
      decodeEnvelope(env);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DecodeError);
    const err = caught as DecodeError;
    expect(err.name).toBe('DecodeError');
    expect(err.message).toContain("subject 'shop.orders.web'");
    expect(err.message).toContain('stream ORDERS, seq 42');
    expect(err.origin.seq).toBe(42);
    expect(err.cause).toBeInstanceOf(Error);
  });

  it('raises a DecodeError for an unsupported content type', () => {
    const env = makeEnvelope({ subject: 'x', data: Uint8Array.from([1]), headers: { 'Content-Type': 'text/csv' } });
    expect(() => decodeEnvelope(env)).toThrow(/unsupported content type 'text\/csv'/);
  });
});

describe('decodeEnvelope on envelopes with getters', () => {
  it('keeps fields that the input exposes as getters (engine messages do)', () => {
    class Lazy {
      readonly subject = 'a.b';
      readonly data = msgpackCodec.encode({ n: 1 });
      readonly stream = 'S';
      readonly seq = 7;
      get headers() {
        return { 'Sluice-Key': 'k1' };
      }
      get id() {
        return 'S:7';
      }
      get key() {
        return 'k1';
      }
      get eventTime() {
        return 123;
      }
    }
    const decoded = decodeEnvelope(new Lazy());
    expect(decoded).toMatchObject({ id: 'S:7', key: 'k1', eventTime: 123, seq: 7, stream: 'S', headers: { 'Sluice-Key': 'k1' } });
  });

  it('carriesDecodedData: true for the decoded envelope as it is, false for any copy (a stage may have replaced data)', () => {
    const decoded = decodeEnvelope<{ a: number }>(makeEnvelope({ subject: 'x', data: msgpackCodec.encode({ a: 1 }) }));
    expect(carriesDecodedData(decoded)).toBe(true);
    expect(carriesDecodedData({ ...decoded, data: { a: 2 } })).toBe(false);
    expect(carriesDecodedData({ ...decoded, key: 'k' })).toBe(false);
    // raw given by hand says nothing about data
    expect(carriesDecodedData(makeEnvelope({ subject: 'x', data: { a: 1 }, raw: msgpackCodec.encode({ a: 1 }) }))).toBe(false);
  });
});
