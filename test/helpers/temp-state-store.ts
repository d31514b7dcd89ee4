import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { openStateStore } from '../../src/state/open-state-store.js';
import type { StateStore } from '../../src/state/types.js';

/**
 * Fresh LMDB state stores in temp directories (`noSync`: tests need no fsync), closed and
 * deleted after each test of the calling file, even when it fails.
 *
 * ```ts
 * const tempStore = useTempStateStores('hold');
 * it('...', () => { const store = tempStore(); ... });
 * ```
 */
export function useTempStateStores(topology: string): () => StateStore {
  const opened: { store: StateStore; dir: string }[] = [];
  afterEach(async () => {
    for (const { store, dir } of opened.splice(0).reverse()) {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
  return () => {
    const dir = mkdtempSync(join(tmpdir(), `sluice-${topology}-`));
    const store = openStateStore({ dir, topology, noSync: true });
    opened.push({ store, dir });
    return store;
  };
}
