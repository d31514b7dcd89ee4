import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPlainMsgpackItem } from '../../../src/codec/is-plain-msgpack-item.js';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';

const numRuns = Number(process.env.PROP_RUNS ?? 200);
const value = fc.jsonValue().filter((v) => !JSON.stringify(v).includes('"__proto__"'));

describe('isPlainMsgpackItem', () => {
  it('holds for any encoded value, and for no strict prefix of it nor with a byte after it', () => {
    fc.assert(
      fc.property(value, fc.nat(), (v, cut) => {
        const bytes = msgpackCodec.encode(v);
        expect(isPlainMsgpackItem(bytes)).toBe(true);
        expect(isPlainMsgpackItem(bytes.subarray(0, cut % bytes.length))).toBe(false);
        expect(isPlainMsgpackItem(Uint8Array.from([...bytes, 0x01]))).toBe(false);
      }),
      { numRuns },
    );
  });

  it('counts map entries as two items and array elements as one, at every width', () => {
    expect(isPlainMsgpackItem(Uint8Array.from([0x81, 0xa1, 0x61, 0x01]))).toBe(true); // {a: 1}
    expect(isPlainMsgpackItem(Uint8Array.from([0x81, 0xa1, 0x61]))).toBe(false); // value missing
    expect(isPlainMsgpackItem(Uint8Array.from([0x92, 0x01, 0x02]))).toBe(true);
    expect(isPlainMsgpackItem(Uint8Array.from([0xdc, 0x00, 0x02, 0x01, 0x02]))).toBe(true); // array16
    expect(isPlainMsgpackItem(Uint8Array.from([0xdd, 0x00, 0x00, 0x00, 0x01, 0xc0]))).toBe(true); // array32
    expect(isPlainMsgpackItem(Uint8Array.from([0xde, 0x00, 0x01, 0xc0, 0xc0]))).toBe(true); // map16
    expect(isPlainMsgpackItem(Uint8Array.from([0xdf, 0x00, 0x00, 0x00, 0x01, 0xc0]))).toBe(false); // map32, value missing
    expect(isPlainMsgpackItem(Uint8Array.from([0xdc, 0x00]))).toBe(false); // header cut short
  });

  it('refuses 0xC1 anywhere and empty input', () => {
    expect(isPlainMsgpackItem(Uint8Array.from([0xc1]))).toBe(false);
    expect(isPlainMsgpackItem(Uint8Array.from([0x91, 0xc1]))).toBe(false);
    expect(isPlainMsgpackItem(new Uint8Array(0))).toBe(false);
  });

  it('refuses what the fast decoder would read otherwise: extensions but the timestamp, 64-bit integers past 2^53', () => {
    expect(isPlainMsgpackItem(msgpackCodec.encode({ at: new Date(0) }))).toBe(true); // timestamp 32
    expect(isPlainMsgpackItem(msgpackCodec.encode({ at: new Date(1.5) }))).toBe(true); // timestamp 64
    expect(isPlainMsgpackItem(Uint8Array.from([0xd4, 0x05, 0x00]))).toBe(false); // fixext1 type 5
    expect(isPlainMsgpackItem(Uint8Array.from([0xd6, 0x05, 0, 0, 0, 0]))).toBe(false); // fixext4 type 5
    expect(isPlainMsgpackItem(msgpackCodec.encode({ n: 2 ** 40 }))).toBe(true);
    expect(isPlainMsgpackItem(msgpackCodec.encode({ n: 2n ** 60n }))).toBe(false);
    expect(isPlainMsgpackItem(msgpackCodec.encode({ n: -(2n ** 60n) }))).toBe(false);
  });
});
