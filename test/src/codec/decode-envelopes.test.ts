import { describe, expect, it } from 'vitest';
import { carriesDecodedData } from '../../../src/codec/decode-envelope.js';
import { decodeEnvelopes } from '../../../src/codec/decode-envelopes.js';
import { jsonCodec } from '../../../src/codec/json-codec.js';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import { makeEnvelope } from '../../../src/envelope/make-envelope.js';
import { DecodeError } from '../../../src/errors.js';

const env = (seq: number, data: Uint8Array, headers?: Record<string, string>) =>
  makeEnvelope({ subject: 'orders.created', data, stream: 'ORDERS', seq, headers });

describe('decodeEnvelopes', () => {
  it('decodes a batch in order, each envelope as decodeEnvelope makes it (bytes kept, forwardable)', () => {
    const batch = [1, 2, 3].map((n) => env(n, msgpackCodec.encode({ n })));
    const { envelopes, failed } = decodeEnvelopes<{ n: number }>(batch);
    expect(failed).toEqual([]);
    expect(envelopes.map((e) => e.data.n)).toEqual([1, 2, 3]);
    expect(envelopes.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(envelopes[1]!.raw).toBe(batch[1]!.data);
    expect(envelopes.every(carriesDecodedData)).toBe(true);
  });

  it('fails only the bad message of a batch, with a DecodeError naming subject, stream and sequence', () => {
    const good = (n: number) => env(n, msgpackCodec.encode({ n }));
    const truncated = msgpackCodec.encode({ n: 2, note: 'cut' });
    const batch = [good(1), env(2, truncated.subarray(0, truncated.length - 2)), good(3)];
    const { envelopes, failed } = decodeEnvelopes<{ n: number }>(batch);
    expect(envelopes.map((e) => e.data.n)).toEqual([1, 3]);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.envelope).toBe(batch[1]);
    expect(failed[0]!.error).toBeInstanceOf(DecodeError);
    expect((failed[0]!.error as Error).message).toMatch(/subject 'orders\.created'.*stream ORDERS, seq 2/);
  });

  it('decodes each message with the codec its Content-Type names, keeping batch order', () => {
    const batch = [
      env(1, msgpackCodec.encode({ n: 1 })),
      env(2, jsonCodec.encode({ n: 2 }), { 'Content-Type': 'application/json' }),
      env(3, msgpackCodec.encode({ n: 3 }), { 'Content-Type': 'application/msgpack' }),
      env(4, Uint8Array.from([1]), { 'Content-Type': 'text/csv' }),
    ];
    const { envelopes, failed } = decodeEnvelopes<{ n: number }>(batch);
    expect(envelopes.map((e) => e.data.n)).toEqual([1, 2, 3]);
    expect(failed.map((f) => (f.error as Error).message)).toEqual([expect.stringMatching(/unsupported content type 'text\/csv'/)]);
  });

  it('decodes an empty batch to nothing', () => {
    expect(decodeEnvelopes([])).toEqual({ envelopes: [], failed: [] });
  });
});
