import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../../src/errors.js';
import { batchBufferLayout, lmdbBatchBuffer } from '../../../src/state/lmdb-batch-buffer.js';
import { openStateStore } from '../../../src/state/open-state-store.js';
import type { StateStore } from '../../../src/state/types.js';
import { makeBatch } from '../../../operators/internal/batch-make.js';
import type { BatchBuffer } from '../../../src/state/batch-buffer.js';
import { describeBatchBufferContract, type ContractValue } from './batch-buffer-contract.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function tempStore(dir = mkdtempSync(join(tmpdir(), 'sluice-lbb-'))): StateStore {
  const store = openStateStore({ dir, topology: 'lbb', noSync: true });
  cleanups.push(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return store;
}

const stores = new WeakMap<BatchBuffer<ContractValue>, StateStore>();
describeBatchBufferContract('lmdbBatchBuffer', {
  make: () => {
    const store = tempStore();
    const buf = lmdbBatchBuffer<ContractValue>({ store, name: 'contract' });
    stores.set(buf, store);
    return buf;
  },
  reopen: async (previous) => {
    const old = stores.get(previous)!;
    await old.close();
    const store = openStateStore({ dir: old.dir, topology: 'lbb', noSync: true });
    cleanups.push(() => store.close());
    return lmdbBatchBuffer<ContractValue>({ store, name: 'contract' });
  },
});

describe('lmdbBatchBuffer', () => {
  it('rejects a bad name or store at creation', () => {
    const store = tempStore();
    expect(() => lmdbBatchBuffer({ store, name: 'a.b' })).toThrow(InvalidConfigError);
    expect(() => lmdbBatchBuffer({ store: undefined as never, name: 'x' })).toThrow(/store/);
    expect(() => lmdbBatchBuffer({ store, name: 'x', releaseChunk: 0 })).toThrow(/releaseChunk/);
  });

  it('releases a segment chunk by chunk and deletes every value key', () => {
    const store = tempStore();
    const buf = lmdbBatchBuffer<ContractValue>({ store, name: 'rel', releaseChunk: 7 });
    buf.appendAll(Array.from({ length: 50 }, (_, i) => ({ id: `m${i}`, seq: i + 1 })));
    const seg = buf.seal();
    const commits = store.stats.commits;
    seg.release();
    // mark + ceil(50 / 7) deletes + final
    expect(store.stats.commits - commits).toBe(1 + 8 + 1);
    expect([...store.entries(batchBufferLayout.namespace('rel'))].map((e) => e.key).sort()).toEqual(['acc', 'low']);
  });

  it('finishes a release interrupted by a crash when reopened', async () => {
    const store = tempStore();
    const buf = lmdbBatchBuffer<ContractValue>({ store, name: 'crash' });
    buf.appendAll([
      { id: 'a', seq: 1 },
      { id: 'b', seq: 2 },
    ]);
    buf.seal();
    const ns = batchBufferLayout.namespace('crash');
    // What a crash right after the release mark leaves behind.
    store.transaction((w) => w.put(ns, batchBufferLayout.segment(1), { seq: 1, count: 2, firstSeq: 1, lastSeq: 2, releasing: true }));
    const again = lmdbBatchBuffer<ContractValue>({ store, name: 'crash' });
    expect(again.unreleased()).toEqual([]);
    expect(store.get(ns, batchBufferLayout.value(1, 0))).toBeUndefined();
  });

  it('flushes 200k values in bounded chunks: no read returns more than the chunk, no array of the whole batch', () => {
    const store = tempStore();
    const buf = lmdbBatchBuffer<{ seq: number; pad: string }>({ store, name: 'big' });
    const N = 200_000;
    const pad = 'x'.repeat(200);
    for (let i = 0; i < N; i += 20_000) buf.appendAll(Array.from({ length: 20_000 }, (_, j) => ({ seq: i + j + 1, pad })));
    const segment = buf.seal();
    expect(segment.count).toBe(N);

    let gets = 0;
    let maxRead = 0;
    const counted = {
      ...segment,
      read: (from: number, size: number) => {
        const out = segment.read(from, size);
        maxRead = Math.max(maxRead, out.length);
        return out;
      },
    };
    const originalGet = store.get.bind(store);
    (store as { get: StateStore['get'] }).get = (ns, key) => {
      gets += 1;
      return originalGet(ns, key);
    };
    const batch = makeBatch('big', 'test', counted);
    const before = process.memoryUsage().heapUsed;
    let peak = 0;
    let seen = 0;
    let sum = 0;
    let chunks = 0;
    for (const chunk of batch.chunks(1_000)) {
      chunks += 1;
      seen += chunk.length;
      for (const v of chunk) sum += v.seq;
      // A chunk read touches its values plus one segment lookup: nothing reads ahead.
      expect(gets).toBeLessThanOrEqual(chunks * 1_001);
      if (chunks % 20 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed - before);
    }
    (store as { get: StateStore['get'] }).get = originalGet;
    expect([seen, chunks, maxRead, sum]).toEqual([N, 200, 1_000, (N * (N + 1)) / 2]);
    // Sanity only (GC timing varies): the whole batch is > 50 MB of values.
    expect(peak).toBeLessThan(48 * 1024 * 1024);
    batch.release();
    expect(buf.unreleased()).toEqual([]);
  }, 60_000);
});
