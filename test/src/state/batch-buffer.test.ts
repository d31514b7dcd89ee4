import { describe, expect, it } from 'vitest';
import { memoryBatchBuffer } from '../../../src/state/batch-buffer.js';
import { describeBatchBufferContract } from './batch-buffer-contract.js';

describeBatchBufferContract('memoryBatchBuffer', { make: () => memoryBatchBuffer() });

describe('memoryBatchBuffer', () => {
  it('takes positions from seqOf', () => {
    const buf = memoryBatchBuffer<{ n: number }>({ seqOf: (x) => x.n * 10 });
    buf.append({ n: 1 });
    buf.append({ n: 2 });
    const seg = buf.seal();
    expect([seg.firstSeq, seg.lastSeq]).toEqual([10, 20]);
  });

  it('values without a numeric seq have no positions', () => {
    const buf = memoryBatchBuffer<string>();
    buf.append('x');
    expect(buf.seal().firstSeq).toBeUndefined();
  });
});
