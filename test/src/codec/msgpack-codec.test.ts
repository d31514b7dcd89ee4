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
      fc.property(
        fc.jsonValue().filter((v) => !JSON.stringify(v).includes('"__proto__"')),
        (value) => {
          expect(msgpackCodec.decode(msgpackCodec.encode(value))).toEqual(JSON.parse(JSON.stringify(value)));
        },
      ),
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

  // One test per row of docs/wire.md's table.
  const hex = (v: unknown) => Buffer.from(msgpackCodec.encode(v)).toString('hex');
  const roundTrip = (v: unknown) => msgpackCodec.decode(msgpackCodec.encode(v));

  it('writes integers as integers: past 32 bits as uint64 (0xcf) or int64 (0xd3), never float64', () => {
    expect(hex(1_764_860_000_000)).toBe('cf0000019ae9da7700');
    expect(hex(-3_000_000_000)).toBe('d3ffffffff4d2fa200');
    expect(hex(Number.MAX_SAFE_INTEGER)).toBe('cf001fffffffffffff');
    expect(hex(2 ** 31)).toBe('ce80000000'); // 32-bit values keep their smallest form
    expect(hex(1.5)).toBe('cb3ff8000000000000');
    expect(hex(2 ** 60)).toBe('cb43b0000000000000'); // past 2^53 an integer-valued number is a float64
    expect(roundTrip({ expiresAt: 1_764_860_000_000 })).toEqual({ expiresAt: 1_764_860_000_000 });
  });

  it('decodes 64-bit integers to numbers up to 2^53 and to BigInt beyond', () => {
    expect(msgpackCodec.decode(Buffer.from('cf001fffffffffffff', 'hex'))).toBe(Number.MAX_SAFE_INTEGER);
    expect(msgpackCodec.decode(Buffer.from('d3ffe0000000000001', 'hex'))).toBe(Number.MIN_SAFE_INTEGER);
    expect(msgpackCodec.decode(Buffer.from('cfffffffffffffffff', 'hex'))).toBe(2n ** 64n - 1n);
    expect(msgpackCodec.decode(Buffer.from('d38000000000000000', 'hex'))).toBe(-(2n ** 63n));
    expect(msgpackCodec.decode(Buffer.from('92cf0020000000000001d30000000000000005', 'hex'))).toEqual([2n ** 53n + 1n, 5]);
  });

  it('BigInt: int64/uint64, read back as a number up to 2^53; past 64 bits encoding throws', () => {
    expect(hex(5n)).toBe('d30000000000000005');
    expect(roundTrip(5n)).toBe(5);
    expect(roundTrip(2n ** 63n)).toBe(2n ** 63n);
    expect(() => msgpackCodec.encode(2n ** 64n)).toThrow(RangeError);
  });

  it('undefined: an object or Map entry is left out, anywhere else it is nil', () => {
    expect(hex({ a: undefined, b: 1 })).toBe('81a16201');
    expect(hex([undefined, 1])).toBe('92c001');
    expect(hex(undefined)).toBe('c0');
    expect(
      roundTrip({
        a: undefined,
        m: new Map([
          ['x', undefined],
          ['y', 2],
        ]),
        l: [undefined],
      }),
    ).toEqual({ m: { y: 2 }, l: [null] });
    // a map16 header keeps its width with fewer entries: still valid MessagePack
    const wide = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i < 3 ? i : undefined]));
    expect(hex(wide)).toBe('de0003a26b3000a26b3101a26b3202');
    expect(roundTrip(wide)).toEqual({ k0: 0, k1: 1, k2: 2 });
  });

  it('Date: the standard timestamp extension (-1); an invalid Date is nil', () => {
    expect(hex(new Date(1_764_860_000_000))).toBe('d6ff6931a060'); // 32-bit: whole seconds
    expect(hex(new Date(1_764_860_000_123))).toBe('d7ff1d5353006931a060'); // 64-bit: with nanoseconds
    expect(hex(new Date(-1))).toMatch(/^c70cff/); // 96-bit: before 1970
    expect(roundTrip(new Date(1_764_860_000_123))).toEqual(new Date(1_764_860_000_123));
    expect(hex(new Date(Number.NaN))).toBe('c0');
  });

  it('Map is a MessagePack map (read back as an object), Set an array', () => {
    expect(
      hex(
        new Map<unknown, number>([
          ['a', 1],
          [2, 3],
        ]),
      ),
    ).toBe('82a161010203');
    expect(roundTrip(new Map([['a', 1]]))).toEqual({ a: 1 });
    expect(hex(new Set([1, 2]))).toBe('920102');
  });

  it('binary (Uint8Array, Buffer, other typed arrays) is bin, read back as a Uint8Array copy', () => {
    expect(hex(Uint8Array.of(1, 2))).toBe('c4020102');
    expect(hex(Buffer.from([3]))).toBe('c40103');
    expect(hex(Int16Array.of(1))).toBe('c4020100'); // its bytes, little-endian
    const payload = msgpackCodec.encode({ b: Uint8Array.of(9) });
    const decoded = msgpackCodec.decode(payload) as { b: Uint8Array };
    expect(decoded.b).toBeInstanceOf(Uint8Array);
    expect(decoded.b.buffer).not.toBe(payload.buffer); // a copy: it does not pin the received buffer
  });

  it('NaN and ±Infinity are float64; -0 becomes 0', () => {
    expect(hex(Number.NaN)).toBe('cb7ff8000000000000');
    expect(hex(Infinity)).toBe('cb7ff0000000000000');
    expect(roundTrip(-Infinity)).toBe(-Infinity);
    expect(hex(-0)).toBe('00');
  });

  it('class instances: toJSON() when they have one, else own fields; a symbol cannot be encoded', () => {
    class Money {
      constructor(readonly cents: number) {}
      toJSON() {
        return `${this.cents / 100} EUR`;
      }
    }
    class Point {
      x = 1;
      y = 2;
    }
    expect(roundTrip({ price: new Money(1250), at: new Point() })).toEqual({ price: '12.5 EUR', at: { x: 1, y: 2 } });
    expect(() => msgpackCodec.encode({ s: Symbol('x') })).toThrow();
  });

  it('reads maps with integer or boolean keys as objects, refuses maps keyed by arrays; a time past Date range is an invalid Date', () => {
    expect(msgpackCodec.decode(Buffer.from('8201a161c302', 'hex'))).toEqual({ '1': 'a', true: 2 });
    expect(() => msgpackCodec.decode(Buffer.from('81920102a178', 'hex'))).toThrow();
    expect((msgpackCodec.decode(Buffer.from('c70cff000000007fffffffffffffff', 'hex')) as Date).getTime()).toBeNaN();
  });

  it('strings are UTF-8; a lone surrogate becomes U+FFFD', () => {
    expect(roundTrip('Zoë 😀')).toBe('Zoë 😀');
    expect(roundTrip('a\ud800b')).toBe('a\ufffdb');
  });

  it('refuses extension types other than the timestamp, and timestamps of other lengths', () => {
    for (const bad of [
      'd40000',
      'd5010000',
      'd60500000000',
      'd8050000000000000000000000000000000000',
      'c7037400010203',
      'c8000174ff',
      'c9000000017400',
      'd4ffff',
      'c704ff00000000',
    ]) {
      expect(() => msgpackCodec.decode(Buffer.from(bad, 'hex')), bad).toThrow(/extension|timestamp/);
    }
    expect(msgpackCodec.decode(Buffer.from('81a174d6ff00000000', 'hex'))).toEqual({ t: new Date(0) });
  });

  it('rejects empty, truncated, trailing-garbage and 0xC1 payloads', () => {
    for (const bad of [[], [0x92, 0x01], [0x01, 0x02], [0xc1], [0x81, 0xa1, 0x61]]) {
      expect(() => msgpackCodec.decode(Uint8Array.from(bad)), JSON.stringify(bad)).toThrow();
    }
  });
});

describe('msgpackCodec.decodeMany', () => {
  it('gives what decode gives for each payload, in order', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.jsonValue().filter((v) => !JSON.stringify(v).includes('"__proto__"')),
          { maxLength: 20 },
        ),
        (values) => {
          const payloads = values.map((v) => msgpackCodec.encode(v));
          expect(msgpackCodec.decodeMany!(payloads)).toEqual(payloads.map((p) => msgpackCodec.decode(p)));
        },
      ),
      { numRuns },
    );
  });

  it('keeps integers past 2^53 exact (BigInt), as decode does', () => {
    const payloads = [msgpackCodec.encode({ n: 1 }), msgpackCodec.encode({ n: 2n ** 60n }), msgpackCodec.encode({ n: 2 ** 40 })];
    expect(msgpackCodec.decodeMany!(payloads)).toEqual([{ n: 1 }, { n: 2n ** 60n }, { n: 2 ** 40 }]);
  });

  it('throws when any payload is malformed, however the others are', () => {
    const good = msgpackCodec.encode({ a: 1 });
    expect(() => msgpackCodec.decodeMany!([good, good.subarray(0, good.length - 1), good])).toThrow();
    expect(() => msgpackCodec.decodeMany!([good, Uint8Array.from([0xc1])])).toThrow();
    expect(() => msgpackCodec.decodeMany!([new Uint8Array(0)])).toThrow(/empty payload/);
    expect(() => msgpackCodec.decodeMany!([good, Uint8Array.from([0xd4, 0x05, 0x00])])).toThrow(/extension type 5/);
  });
});
