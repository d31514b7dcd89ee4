import { describe, expect, it } from 'vitest';
import type { BatchBuffer } from '../../../src/state/batch-buffer.js';

/** A value as the contract appends it: an envelope-like record with a stream position. */
export interface ContractValue {
  readonly id: string;
  readonly seq: number;
}

/** How the contract gets buffers of one implementation. */
export interface BatchBufferFactory {
  /** A fresh, empty buffer. */
  make(): BatchBuffer<ContractValue> | Promise<BatchBuffer<ContractValue>>;
  /**
   * The same store opened again, as after a restart (durable buffers only). The contract then
   * checks that sealed-but-unreleased segments, the open segment and the batch counter survive.
   */
  reopen?: ((previous: BatchBuffer<ContractValue>) => BatchBuffer<ContractValue> | Promise<BatchBuffer<ContractValue>>) | undefined;
}

const v = (seq: number): ContractValue => ({ id: `m${seq}`, seq });

/**
 * The behaviour every `BatchBuffer` shares — the in-memory one and durable ones (LMDB) alike. Call
 * it from the implementation's test file: `describeBatchBufferContract('lmdbBatchBuffer', { make, reopen })`.
 */
export function describeBatchBufferContract(name: string, factory: BatchBufferFactory): void {
  describe(`${name} (BatchBuffer contract)`, () => {
    it('counts the open segment and seals it as batch 1, 2, ... with its positions', async () => {
      const buf = await factory.make();
      expect(buf.count()).toBe(0);
      buf.append(v(1));
      buf.append(v(2));
      expect(buf.count()).toBe(2);
      const one = buf.seal();
      expect([one.seq, one.count, one.firstSeq, one.lastSeq]).toEqual([1, 2, 1, 2]);
      expect(buf.count()).toBe(0);
      buf.append(v(3));
      const two = buf.seal();
      expect([two.seq, two.count, two.firstSeq, two.lastSeq]).toEqual([2, 1, 3, 3]);
    });

    it('reads a sealed segment in chunks while new values are appended', async () => {
      const buf = await factory.make();
      for (let i = 1; i <= 5; i++) buf.append(v(i));
      const seg = buf.seal();
      buf.append(v(6));
      expect(seg.read(0, 2).map((x) => x.seq)).toEqual([1, 2]);
      expect(seg.read(2, 2).map((x) => x.seq)).toEqual([3, 4]);
      expect(seg.read(4, 2).map((x) => x.seq)).toEqual([5]);
      expect(seg.read(5, 2)).toEqual([]);
      expect(buf.count()).toBe(1);
    });

    it('keeps sealed segments until released, oldest first; release is idempotent', async () => {
      const buf = await factory.make();
      buf.append(v(1));
      const a = buf.seal();
      buf.append(v(2));
      const b = buf.seal();
      expect(buf.unreleased().map((s) => s.seq)).toEqual([1, 2]);
      a.release();
      a.release();
      expect(buf.unreleased().map((s) => s.seq)).toEqual([2]);
      expect(a.read(0, 10)).toEqual([]);
      expect(b.read(0, 10).map((x) => x.seq)).toEqual([2]);
    });

    it('seals an empty segment as a numbered batch with no values', async () => {
      const buf = await factory.make();
      const empty = buf.seal();
      expect([empty.seq, empty.count, empty.firstSeq, empty.lastSeq, empty.read(0, 10)]).toEqual([1, 0, undefined, undefined, []]);
    });

    if (factory.reopen !== undefined) {
      const reopen = factory.reopen;
      it('after reopening: unreleased segments, the open segment and the batch counter survive', async () => {
        const buf = await factory.make();
        buf.append(v(1));
        buf.seal().release();
        buf.append(v(2));
        buf.seal();
        buf.append(v(3));
        const again = await reopen(buf);
        expect(again.unreleased().map((s) => [s.seq, s.count, s.read(0, 10).map((x) => x.seq)])).toEqual([[2, 1, [2]]]);
        expect(again.count()).toBe(1);
        const next = again.seal();
        expect([next.seq, next.read(0, 10).map((x) => x.seq)]).toEqual([3, [3]]);
      });
    }
  });
}
