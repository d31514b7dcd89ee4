import { describe, expect, it } from 'vitest';
import { codecFor, codecNamed } from '../../../src/codec/codec-for.js';
import { jsonCodec } from '../../../src/codec/json-codec.js';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import { InvalidConfigError } from '../../../src/errors.js';

describe('codecFor / codecNamed', () => {
  it('picks the codec by Content-Type, ignoring parameters and case', () => {
    expect(codecFor('application/json; charset=utf-8')).toBe(jsonCodec);
    expect(codecFor('Application/MsgPack')).toBe(msgpackCodec);
    expect(codecFor('application/x-msgpack')).toBe(msgpackCodec);
  });

  it('uses the fallback without a header and undefined for unknown types', () => {
    expect(codecFor(undefined)).toBe(msgpackCodec);
    expect(codecFor(undefined, jsonCodec)).toBe(jsonCodec);
    expect(codecFor('text/csv')).toBeUndefined();
  });

  it('looks codecs up by name and names a bad one', () => {
    expect(codecNamed('json')).toBe(jsonCodec);
    expect(() => codecNamed('yaml' as never)).toThrow(InvalidConfigError);
    expect(() => codecNamed('yaml' as never)).toThrow(/'name' must be 'msgpack' or 'json', got "yaml"/);
  });
});
