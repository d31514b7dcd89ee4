import { decode as mpDecode, encode as mpEncode, ExtData, ExtensionCodec } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';

// @msgpack/msgpack is an implementation independent of msgpackr: what it reads is what any
// conformant library in another language reads. With useBigInt64 it hands back every int64 and
// uint64 as a BigInt, which shows what type an integer travelled as.
const numRuns = Number(process.env.PROP_RUNS ?? 300);
const seed = process.env.PROP_SEED === undefined ? undefined : Number(process.env.PROP_SEED);
const INT32_MIN = -(2 ** 31);
const UINT32_END = 2 ** 32;
const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

/** Runs a property; on failure the error names the seed (fast-check's report), also printed. */
function check<T>(arb: fc.Arbitrary<T>, predicate: (v: T) => void): void {
  const details = fc.check(fc.property(arb, predicate), { numRuns, seed });
  if (details.failed) {
    console.error(`property failed: seed ${details.seed}, path ${details.counterexamplePath} (rerun with PROP_SEED=${details.seed})`);
    fc.assert(fc.property(arb, predicate), { numRuns, seed: details.seed, path: details.counterexamplePath ?? undefined });
  }
}

const key = fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__');
const integers = fc.oneof(
  fc.integer(),
  fc.maxSafeInteger(),
  fc.integer({ min: 0, max: 2 ** 31 - 1 }).map((ms) => 1_764_860_000_000 + ms), // epoch milliseconds
  fc.constantFrom(UINT32_END - 1, UINT32_END, INT32_MIN, INT32_MIN - 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER),
);
const leaf = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  integers,
  fc.double(), // NaN, ±Infinity and -0 included
  fc.bigInt({ min: INT64_MIN, max: UINT64_MAX }),
  fc.string({ unit: 'grapheme' }),
  fc.date(), // Invalid Date included
  fc.uint8Array({ maxLength: 40 }),
  fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
);
/** Everything Sluice's codec encodes without throwing (docs/wire.md lists each kind). */
const { value: sluiceValue } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('array'), tie('object'), tie('map'), tie('set')),
  array: fc.array(tie('value'), { maxLength: 5 }),
  object: fc.dictionary(key, tie('value'), { maxKeys: 5 }),
  map: fc.array(fc.tuple(key, tie('value')), { maxLength: 4 }).map((entries) => new Map(entries)),
  set: fc.array(tie('value'), { maxLength: 4 }).map((items) => new Set(items)),
}));

type Ints = 'bigint64' | 'sluice';
/**
 * What a decoder returns for `v` sent through Sluice's codec, per docs/wire.md. `ints`: how the
 * decoder hands back 64-bit integers — 'bigint64' (@msgpack/msgpack with useBigInt64: all as
 * BigInt) or 'sluice' (numbers up to 2^53, BigInt beyond).
 */
function expected(v: unknown, ints: Ints): unknown {
  if (v === undefined || typeof v === 'function') return null;
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') {
    if (Object.is(v, -0)) return 0;
    const int64 = Number.isSafeInteger(v) && (v >= UINT32_END || v < INT32_MIN);
    return int64 && ints === 'bigint64' ? BigInt(v) : v;
  }
  if (typeof v === 'bigint') {
    if (ints === 'bigint64') return v;
    return v <= 2n ** 53n && v >= -(2n ** 53n) ? Number(v) : v;
  }
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : new Date(v.getTime());
  if (v instanceof Uint8Array) return Uint8Array.from(v);
  if (Array.isArray(v)) return v.map((x) => expected(x, ints));
  if (v instanceof Set) return [...v].map((x) => expected(x, ints));
  const entries = v instanceof Map ? [...v.entries()] : Object.entries(v);
  const out: Record<string, unknown> = {};
  for (const [k, x] of entries) if (x !== undefined && typeof x !== 'function') out[String(k)] = expected(x, ints);
  return out;
}

/** Binary as plain Uint8Array (decoders return Buffers or views), so values compare by content. */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return Uint8Array.from(v);
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object' && !(v instanceof Date) && !(v instanceof ExtData)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

function extDataIn(v: unknown): ExtData[] {
  if (v instanceof ExtData) return [v];
  if (Array.isArray(v)) return v.flatMap(extDataIn);
  if (v !== null && typeof v === 'object' && !(v instanceof Date) && !(v instanceof Uint8Array)) return Object.values(v).flatMap(extDataIn);
  return [];
}

describe('msgpackCodec against an independent MessagePack implementation (@msgpack/msgpack)', () => {
  it('Sluice encodes, @msgpack/msgpack decodes the documented equivalent (integers past 32 bits as int64/uint64)', () => {
    check(sluiceValue, (v) => {
      const decoded = mpDecode(msgpackCodec.encode(v), { useBigInt64: true });
      expect(plain(decoded)).toEqual(expected(v, 'bigint64'));
    });
  });

  it('Sluice encodes and decodes back the documented equivalent', () => {
    check(sluiceValue, (v) => {
      expect(plain(msgpackCodec.decode(msgpackCodec.encode(v)))).toEqual(expected(v, 'sluice'));
    });
  });

  it('no extension type but the timestamp (-1) is ever written', () => {
    // Left to themselves, @msgpack/msgpack decodes unknown extension types to ExtData.
    // eslint-disable-next-line no-sparse-arrays -- an array with a hole is one of the odd values
    const holey = [1, , 3];
    const odd = fc.oneof(
      sluiceValue,
      fc.constantFrom<unknown>(new Error('boom'), /re+/g, Int16Array.of(1, -2), Float64Array.of(0.5), new ArrayBuffer(3), new DataView(new ArrayBuffer(2))),
      fc.constantFrom<unknown>(
        () => 1,
        new (class Point {
          x = 1;
          y = 2;
        })(),
        holey,
      ),
    );
    check(fc.array(odd, { maxLength: 4 }), (v) => {
      expect(extDataIn(mpDecode(msgpackCodec.encode(v)))).toEqual([]);
    });
  });

  it('@msgpack/msgpack encodes, Sluice decodes the documented equivalent', () => {
    const { value: theirs } = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object')),
      array: fc.array(tie('value'), { maxLength: 5 }),
      object: fc.dictionary(key, tie('value'), { maxKeys: 5 }),
    }));
    check(theirs, (v) => {
      const bytes = mpEncode(v, { useBigInt64: true });
      expect(plain(msgpackCodec.decode(bytes))).toEqual(theirs_expected(v));
    });
    /** @msgpack/msgpack writes undefined as nil (the field stays), an invalid Date as the timestamp 0 (3.1.3), -0 as float64. */
    function theirs_expected(v: unknown): unknown {
      if (v === undefined) return null;
      if (v instanceof Date && Number.isNaN(v.getTime())) return expected(new Date(0), 'sluice');
      if (typeof v === 'bigint') return expected(v, 'sluice');
      if (v instanceof Date || v instanceof Uint8Array || typeof v !== 'object' || v === null) return expected(v, 'sluice');
      if (Array.isArray(v)) return v.map(theirs_expected);
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, theirs_expected(x)]));
    }
  });

  it('refuses payloads with extension types other than the timestamp, naming the type', () => {
    const codec = new ExtensionCodec();
    codec.register({ type: 5, encode: (x) => (x instanceof Set ? Uint8Array.of(1, 2, 3) : null), decode: () => null });
    const bytes = mpEncode({ tags: new Set([1]) }, { extensionCodec: codec });
    expect(() => msgpackCodec.decode(bytes)).toThrow(/extension type 5 at byte \d+/);
  });
});
