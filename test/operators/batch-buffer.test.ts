import { describe, expect, it } from 'vitest';
import { memoryBatchBuffer } from '../../operators/batch-buffer.js';

describe('memoryBatchBuffer', () => {
  it('seals the open segment as numbered batches and keeps appending to a new one', () => {
    const buf = memoryBatchBuffer<{ seq: number }>();
    buf.append({ seq: 1 });
    buf.append({ seq: 2 });
    const one = buf.seal();
    buf.append({ seq: 3 });
    expect(buf.count()).toBe(1);
    expect([one.seq, one.count, one.firstSeq, one.lastSeq]).toEqual([1, 2, 1, 2]);
    expect(one.read(1, 5)).toEqual([{ seq: 2 }]);
    const two = buf.seal();
    expect(two.seq).toBe(2);
    expect(buf.unreleased().map((s) => s.seq)).toEqual([1, 2]);
    one.release();
    one.release();
    expect(buf.unreleased().map((s) => s.seq)).toEqual([2]);
    expect(one.read(0, 5)).toEqual([]);
  });

  it('seals an empty segment and reads past the end as empty', () => {
    const buf = memoryBatchBuffer<string>({ seqOf: () => undefined });
    const empty = buf.seal();
    expect([empty.count, empty.firstSeq, empty.read(0, 10)]).toEqual([0, undefined, []]);
  });
});
