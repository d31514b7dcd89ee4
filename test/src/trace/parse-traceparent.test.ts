import { describe, expect, it } from 'vitest';
import { formatTraceparent, parseTraceparent } from '../../../src/trace/parse-traceparent.js';

describe('parseTraceparent', () => {
  it('reads the W3C example and formats it back', () => {
    const value = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const tp = parseTraceparent(value);
    expect(tp).toEqual({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', flags: 1 });
    expect(formatTraceparent(tp!)).toBe(value);
  });

  it('reads the 00 prefix of a later version, and ignores what the spec says to ignore', () => {
    expect(parseTraceparent('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-later')).toMatchObject({ flags: 0 });
    for (const bad of [
      undefined,
      '',
      'nonsense',
      'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', // forbidden version
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra', // version 00 has no more fields
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01', // zero trace id
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01', // zero span id
      '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01', // uppercase
    ]) {
      expect(parseTraceparent(bad)).toBeUndefined();
    }
  });
});
