import { describe, expect, it } from 'vitest';
import { jsonCodec } from '../../../src/codec/json-codec.js';

describe('jsonCodec', () => {
  it('encodes UTF-8 JSON and decodes it back', () => {
    const bytes = jsonCodec.encode({ name: 'Zoë', total: 12.5 });
    expect(new TextDecoder().decode(bytes)).toBe('{"name":"Zoë","total":12.5}');
    expect(jsonCodec.decode(bytes)).toEqual({ name: 'Zoë', total: 12.5 });
  });

  it('encodes undefined as null', () => {
    expect(new TextDecoder().decode(jsonCodec.encode(undefined))).toBe('null');
  });

  // What JSON.stringify does, row by row as docs/wire.md lists it for the msgpack codec.
  const text = (v: unknown) => new TextDecoder().decode(jsonCodec.encode(v));

  it('writes each JavaScript type the way JSON.stringify does', () => {
    // eslint-disable-next-line no-loss-of-precision -- the lost precision is what the test shows
    expect(text({ expiresAt: 1_764_860_000_000, n: 9_007_199_254_740_993 })).toBe('{"expiresAt":1764860000000,"n":9007199254740992}');
    expect(text({ a: undefined, l: [undefined, () => 1] })).toBe('{"l":[null,null]}');
    expect(text({ at: new Date(1_764_860_000_123), bad: new Date(Number.NaN) })).toBe('{"at":"2025-12-04T14:53:20.123Z","bad":null}');
    expect(text({ m: new Map([['a', 1]]), s: new Set([1]) })).toBe('{"m":{},"s":{}}'); // entries lost: use objects and arrays
    expect(text({ u: Uint8Array.of(1, 2), b: Buffer.from([3]) })).toBe('{"u":{"0":1,"1":2},"b":{"type":"Buffer","data":[3]}}');
    expect(text([Number.NaN, Infinity, -0])).toBe('[null,null,0]');
    expect(() => jsonCodec.encode({ n: 1n })).toThrow(TypeError);
  });

  it('rejects invalid UTF-8 and invalid JSON', () => {
    expect(() => jsonCodec.decode(Uint8Array.from([0xff, 0xfe]))).toThrow();
    expect(() => jsonCodec.decode(new TextEncoder().encode('{"a":'))).toThrow();
  });
});
