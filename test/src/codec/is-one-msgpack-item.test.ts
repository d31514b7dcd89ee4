import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isOneMsgpackItem } from '../../../src/codec/is-one-msgpack-item.js';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';

const numRuns = Number(process.env.PROP_RUNS ?? 200);
const value = fc.jsonValue().filter((v) => !JSON.stringify(v).includes('"__proto__"'));

describe('isOneMsgpackItem', () => {
  it('holds for any encoded value, and for no strict prefix of it nor with a byte after it', () => {
    fc.assert(
      fc.property(value, fc.nat(), (v, cut) => {
        const bytes = msgpackCodec.encode(v);
        expect(isOneMsgpackItem(bytes)).toBe(true);
        expect(isOneMsgpackItem(bytes.subarray(0, cut % bytes.length))).toBe(false);
        expect(isOneMsgpackItem(Uint8Array.from([...bytes, 0x01]))).toBe(false);
      }),
      { numRuns },
    );
  });

  it('counts map entries as two items and array elements as one, at every width', () => {
    expect(isOneMsgpackItem(Uint8Array.from([0x81, 0xa1, 0x61, 0x01]))).toBe(true); // {a: 1}
    expect(isOneMsgpackItem(Uint8Array.from([0x81, 0xa1, 0x61]))).toBe(false); // value missing
    expect(isOneMsgpackItem(Uint8Array.from([0x92, 0x01, 0x02]))).toBe(true);
    expect(isOneMsgpackItem(Uint8Array.from([0xdc, 0x00, 0x02, 0x01, 0x02]))).toBe(true); // array16
    expect(isOneMsgpackItem(Uint8Array.from([0xdd, 0x00, 0x00, 0x00, 0x01, 0xc0]))).toBe(true); // array32
    expect(isOneMsgpackItem(Uint8Array.from([0xde, 0x00, 0x01, 0xc0, 0xc0]))).toBe(true); // map16
    expect(isOneMsgpackItem(Uint8Array.from([0xdf, 0x00, 0x00, 0x00, 0x01, 0xc0]))).toBe(false); // map32, value missing
    expect(isOneMsgpackItem(Uint8Array.from([0xdc, 0x00]))).toBe(false); // header cut short
  });

  it('refuses 0xC1 anywhere and empty input', () => {
    expect(isOneMsgpackItem(Uint8Array.from([0xc1]))).toBe(false);
    expect(isOneMsgpackItem(Uint8Array.from([0x91, 0xc1]))).toBe(false);
    expect(isOneMsgpackItem(new Uint8Array(0))).toBe(false);
  });
});
