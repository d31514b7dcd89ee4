import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';

// docs/wire.md's Python example, run as written against bytes Sluice encoded: Debian's
// python3-msgpack (a C implementation) is the kind of consumer the wire format is for.
const READER = `
import sys, msgpack, json
event = msgpack.unpackb(sys.stdin.buffer.read(), timestamp=3)
print(json.dumps({k: [type(v).__name__, v.isoformat() if hasattr(v, "isoformat") else (list(v) if isinstance(v, bytes) else v)] for k, v in event.items()}))
`;

describe('msgpackCodec read by Python (python3-msgpack)', () => {
  it('integers arrive as int, Dates as datetime, Sets as lists, undefined fields not at all', () => {
    const bytes = msgpackCodec.encode({
      orderId: 'o-1',
      expiresAt: 1_764_860_000_000,
      delta: -3_000_000_000,
      price: 19.99,
      placed: new Date(1_764_860_000_123),
      tags: new Set(['a']),
      note: undefined,
      blob: Uint8Array.of(1),
    });
    const run = spawnSync('/usr/bin/python3', ['-c', READER], { input: bytes, encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({
      orderId: ['str', 'o-1'],
      expiresAt: ['int', 1_764_860_000_000],
      delta: ['int', -3_000_000_000],
      price: ['float', 19.99],
      placed: ['datetime', '2025-12-04T14:53:20.123000+00:00'],
      tags: ['list', ['a']],
      blob: ['bytes', expect.anything()],
    });
  });
});
