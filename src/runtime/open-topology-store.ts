import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TopologyContext } from './types.js';
import { InvalidConfigError } from '../errors.js';
import { openStateStore } from '../state/open-state-store.js';
import type { StateStore } from '../state/types.js';

/** A state store opened by {@link openTopologyStore}, and how to close it. */
export interface TopologyStore {
  readonly store: StateStore;
  /** Closes the store (and removes it when it was temporary). */
  close(): Promise<void>;
}

/**
 * Opens the state store of an exactly-once part of a topology (an actor, a durable batch).
 *
 * On a durable transport: `<stateDir>/<topology>`, with `stateDir` defaulting to the
 * `SLUICE_STATE_DIR` environment variable, else `./.sluice/state`; its size limit is
 * `SLUICE_STATE_MAP_SIZE_BYTES` when set (the store's default otherwise, 4 GiB).
 *
 * On a transport that is not durable (the in-process one): a fresh temporary directory, removed
 * on close. Its streams start empty on every run, so a checkpoint kept from an earlier run would
 * point past messages that were never read, and state would outlive the input it came from.
 */
export function openTopologyStore(t: Pick<TopologyContext, 'topologyName' | 'transport' | 'logger'>, stateDir: string | undefined): TopologyStore {
  if (t.transport.durable) {
    const root = stateDir ?? process.env['SLUICE_STATE_DIR'] ?? join(process.cwd(), '.sluice', 'state');
    const store = openStateStore({ dir: join(root, t.topologyName), topology: t.topologyName, mapSizeBytes: mapSizeFromEnv(process.env) });
    return { store, close: () => store.close() };
  }
  const dir = mkdtempSync(join(tmpdir(), `sluice-${t.topologyName}-`));
  t.logger.info({ dir }, 'in-process transport: state kept in a temporary directory for this run only');
  const store = openStateStore({ dir, topology: t.topologyName, noSync: true });
  return {
    store,
    close: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `SLUICE_STATE_MAP_SIZE_BYTES`: the size limit of a topology's own store (what `StateMapFullError` says to raise). */
export function mapSizeFromEnv(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env['SLUICE_STATE_MAP_SIZE_BYTES'];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new InvalidConfigError('SLUICE_STATE_MAP_SIZE_BYTES', 'value', `must be a positive integer (bytes), got '${raw}'`);
  return n;
}
