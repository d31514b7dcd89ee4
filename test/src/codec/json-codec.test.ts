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

  it('rejects invalid UTF-8 and invalid JSON', () => {
    expect(() => jsonCodec.decode(Uint8Array.from([0xff, 0xfe]))).toThrow();
    expect(() => jsonCodec.decode(new TextEncoder().encode('{"a":'))).toThrow();
  });
});
