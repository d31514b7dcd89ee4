import fc from 'fast-check';
import { Unpackr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';

const numRuns = Number(process.env.PROP_RUNS ?? 200);

describe('msgpackCodec', () => {
  it('names its content type', () => {
    expect(msgpackCodec.contentType).toBe('application/msgpack');
  });

  it('round-trips any JSON-like value', () => {
    fc.assert(
      // '__proto__' keys are renamed by msgpackr (prototype-pollution guard): see the next test.
      fc.property(fc.jsonValue().filter((v) => !JSON.stringify(v).includes('"__proto__"')), (value) => {
        expect(msgpackCodec.decode(msgpackCodec.encode(value))).toEqual(JSON.parse(JSON.stringify(value)));
      }),
      { numRuns },
    );
  });

  it("never lets a '__proto__' key reach an object's prototype", () => {
    const bytes = msgpackCodec.encode(JSON.parse('{"__proto__":{"polluted":true}}'));
    const decoded = msgpackCodec.decode(bytes) as Record<string, unknown>;
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('writes standard MessagePack: a plain decoder without msgpackr extensions reads it', () => {
    const plain = new Unpackr({ useRecords: false, mapsAsObjects: true });
    const value = { sku: 'A-1', qty: 3, lines: [{ sku: 'A-1' }, { sku: 'B-2' }] };
    const bytes = msgpackCodec.encode(value);
    // fixmap with 3 entries: no record extension (0xd4/0xc7 ...) on the wire
    expect(bytes[0]).toBe(0x83);
    expect(plain.unpack(bytes)).toEqual(value);
  });

  it('rejects empty, truncated, trailing-garbage and 0xC1 payloads', () => {
    for (const bad of [[], [0x92, 0x01], [0x01, 0x02], [0xc1], [0x81, 0xa1, 0x61]]) {
      expect(() => msgpackCodec.decode(Uint8Array.from(bad)), JSON.stringify(bad)).toThrow();
    }
  });
});
