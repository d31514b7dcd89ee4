import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { openStateStore } from '../../src/state/open-state-store.js';
import { wirePackr } from '../workload.js';
import { median, pair, rateOf, type BaselinePair } from './baseline-pair.js';

const PER_TXN = 1000;

/**
 * LMDB batched puts of decoded order events under the same string keys, 1000 per transaction,
 * both with default durability (synced commits): raw lmdb-js `transactionSync` with a
 * shared-structures key (PLATFORM-NOTES) against Sluice's state store `transaction(w => w.put)`,
 * which adds key partitioning (`[fnv1a32(key) % 16, key]`) and its size check.
 */
export async function lmdbPutsBaseline(pool: readonly Uint8Array[], events: number, rounds = 3): Promise<BaselinePair> {
  const orders = pool.map((b) => wirePackr.unpack(b) as unknown);
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-lmdb-'));
  const keys = Array.from({ length: events }, (_, k) => `o-${String(k).padStart(9, '0')}`);
  const raws: number[] = [];
  const sluices: number[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      const env = open({ path: join(dir, `raw-${r}`), sharedStructuresKey: Symbol.for('structures') });
      const db = env.openDB({ name: 'orders', sharedStructuresKey: Symbol.for('structures') });
      raws.push(
        await rateOf(events, () => {
          for (let i = 0; i < events; i += PER_TXN) {
            const end = Math.min(events, i + PER_TXN);
            db.transactionSync(() => {
              for (let k = i; k < end; k++) void db.put(keys[k]!, orders[k % orders.length]);
            });
          }
        }),
      );
      await env.close();

      const store = openStateStore({ dir: join(dir, `sluice-${r}`), topology: 'bench' });
      sluices.push(
        await rateOf(events, () => {
          for (let i = 0; i < events; i += PER_TXN) {
            const end = Math.min(events, i + PER_TXN);
            store.transaction((w) => {
              for (let k = i; k < end; k++) w.put('orders', keys[k]!, orders[k % orders.length]);
            });
          }
        }),
      );
      await store.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return pair({
    name: 'lmdb-batched-puts',
    work: `${events.toLocaleString('en')} order events into LMDB, ${PER_TXN} puts per transaction`,
    rawLabel: 'lmdb-js transactionSync',
    sluiceLabel: 'Sluice state store transaction()',
    raw: median(raws),
    sluice: median(sluices),
    events,
    rounds,
  });
}
