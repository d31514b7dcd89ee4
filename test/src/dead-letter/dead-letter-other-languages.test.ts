import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { toDeadLetter } from '../../../src/dead-letter/dead-letter-record.js';
import { encodeDeadLetter } from '../../../src/dead-letter/encode-dead-letter.js';
import { makeEnvelope } from '../../../src/envelope/make-envelope.js';

// Python's msgpack (Debian python3-msgpack) reads a record: the field types docs/dead-letters.md promises.
const PYTHON = `
import sys, json, msgpack
r = msgpack.unpackb(sys.stdin.buffer.read(), raw=False)
print(json.dumps({k: type(v).__name__ for k, v in r.items()}, sort_keys=True))
print(json.dumps({"payload": list(r["payload"][:4]), "error": r["error"], "replayOf": r.get("replayOf"), "truncated": r.get("payloadTruncated")}))
`;

describe('a dead-letter record read by another language (python3-msgpack)', () => {
  it('has the documented fields and types, including a cut payload and a parked replay', () => {
    const env = makeEnvelope({
      subject: 'shop.orders.eu',
      data: null,
      raw: new Uint8Array(5000).fill(7),
      stream: 'ORDERS',
      seq: 42,
      key: 'sku-1',
      headers: { 'Content-Type': 'application/msgpack', 'Sluice-Replay-Of': 'SLUICE_DLQ_shop/3', 'Sluice-Replay-Attempt': '2' },
    });
    const { payload } = encodeDeadLetter(toDeadLetter(env, new TypeError('bad total'), 1, { operator: 'check:fraud', failedAt: 1_764_201_600_000 }), {
      maxBytes: 2048,
    });
    const [types, values] = execFileSync('/usr/bin/python3', ['-c', PYTHON], { input: payload, encoding: 'utf8' }).trim().split('\n');
    const { failedAt, ...rest } = JSON.parse(types!) as Record<string, string>;
    expect(['int', 'float']).toContain(failedAt); // msgpackr writes integers past 32 bits as float64
    expect(rest).toEqual({
      v: 'int',
      operator: 'str',
      subject: 'str',
      id: 'str',
      stream: 'str',
      seq: 'int',
      key: 'str',
      headers: 'dict',
      payload: 'bytes',
      payloadSource: 'str',
      payloadTruncated: 'bool',
      payloadBytes: 'int',
      error: 'dict',
      attempts: 'int',
      replayOf: 'str',
      replayAttempt: 'int',
    });
    expect(JSON.parse(values!)).toEqual({
      payload: [7, 7, 7, 7],
      error: { name: 'TypeError', message: 'bad total' },
      replayOf: 'SLUICE_DLQ_shop/3',
      truncated: true,
    });
  });
});
