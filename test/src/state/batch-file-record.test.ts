import { describe, expect, it } from 'vitest';
import {
  HEADER_BYTES,
  isRecordKind,
  KIND_END,
  KIND_MORE,
  KIND_SEAL,
  packr,
  packSeal,
  readRecordHeader,
  recordCrcMatches,
  recordValues,
  unpackSeal,
  writeRecordHeader,
} from '../../../src/state/batch-file-record.js';
import { BatchBufferCorruptError } from '../../../src/state/state-errors.js';

/** A values record for `values` at `at` in a fresh buffer, as the writer frames it. */
function valuesRecord(values: unknown[], kind = KIND_END, at = 0): { buf: Buffer; end: number } {
  const bodies = values.map((v) => packr.pack(v));
  const length = bodies.reduce((n, b) => n + 4 + b.length, 0);
  const buf = Buffer.alloc(at + HEADER_BYTES + length);
  let pos = at + HEADER_BYTES;
  for (const b of bodies) {
    buf.writeUInt32LE(b.length, pos);
    b.copy(buf, pos + 4);
    pos += 4 + b.length;
  }
  return { buf, end: writeRecordHeader(buf, at, kind, values.length, length) };
}

const bodyOf = (buf: Buffer, at: number): Buffer => buf.subarray(at + HEADER_BYTES, at + HEADER_BYTES + readRecordHeader(buf, at)!.length);

describe('batch file record', () => {
  it('a header reads back as written, at any offset, and its CRC matches', () => {
    const values = [{ n: 1, to: 't1' }, 'two', 3];
    const { buf, end } = valuesRecord(values, KIND_MORE, 7);
    expect(end).toBe(buf.length);
    expect(buf.toString('latin1', 7, 11)).toBe('SLBF');
    expect(readRecordHeader(buf, 7)).toEqual({ kind: KIND_MORE, count: 3, length: end - 7 - HEADER_BYTES });
    expect(recordCrcMatches(buf, 7, bodyOf(buf, 7))).toBe(true);
    expect(recordValues(bodyOf(buf, 7), 3, 'f.seg', 7).map((b) => packr.unpack(b) as unknown)).toEqual(values);
  });

  it('a changed body byte, or a changed kind, count or length, fails the CRC', () => {
    for (const offset of [4, 8, 12, HEADER_BYTES + 5]) {
      const { buf } = valuesRecord([1, 2, 3]);
      const body = buf.subarray(HEADER_BYTES);
      buf[offset] = buf[offset]! ^ 1;
      expect([offset, recordCrcMatches(buf, 0, body)]).toEqual([offset, false]);
    }
  });

  it('no magic: not a header; an unknown kind is told apart', () => {
    const { buf } = valuesRecord([1]);
    buf[0] = buf[0]! ^ 1;
    expect(readRecordHeader(buf, 0)).toBeUndefined();
    expect([KIND_MORE, KIND_END, KIND_SEAL].every(isRecordKind)).toBe(true);
    expect([0, 4, 255].some(isRecordKind)).toBe(false);
  });

  it('a values body with fewer values than its count is corrupt', () => {
    const { buf } = valuesRecord([1, 'two']);
    const body = buf.subarray(HEADER_BYTES);
    expect(() => recordValues(body, 3, 'f.seg', 40)).toThrow(BatchBufferCorruptError);
    // A length prefix running past the body.
    expect(() => recordValues(body.subarray(0, body.length - 1), 2, 'f.seg', 40)).toThrow(/fewer than its 2 values/);
  });

  it('a seal body reads back as packed, sequences absent or not', () => {
    expect(unpackSeal(packSeal({ count: 5, firstSeq: 10, lastSeq: 14 }))).toEqual({ count: 5, firstSeq: 10, lastSeq: 14 });
    expect(unpackSeal(packSeal({ count: 0, firstSeq: undefined, lastSeq: undefined })).count).toBe(0);
  });
});
