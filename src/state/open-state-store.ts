import { statfsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import type * as Lmdb from 'lmdb';
import type { Database, Key, RootDatabase } from 'lmdb';
import { InvalidConfigError } from '../errors.js';
import { partitionOf } from './partition-of.js';
import { claimStateDirectory } from './claim-state-directory.js';
import { prepareStateDirectory } from './prepare-state-directory.js';
import { InvalidNamespaceError, StateDirectoryError, StateDiskFullError, StateMapFullError } from './state-errors.js';
import type { Checkpoint, DurableTimer, OutboxRecord, StateEntry, StateStore, StateStoreConfig, StateWrite, StateWriter } from './types.js';

const DEFAULT_PARTITIONS = 16;
const DEFAULT_MAP_SIZE_BYTES = 4 * 1024 ** 3;
const DEFAULT_MAX_NAMESPACES = 64;
const MDB_MAP_FULL = -30792;
const CLOSE_WAIT_MS = 2_000;
const STRUCTURES = Symbol.for('sluice.structures');
const RESERVED_PREFIX = 'sluice.';
const DB = {
  meta: 'sluice.meta',
  checkpoints: 'sluice.checkpoints',
  outbox: 'sluice.outbox',
  timers: 'sluice.timers',
  timersDue: 'sluice.timers.due',
} as const;

interface Meta {
  topology: string;
  partitions: number;
  version: 1;
}

interface StoredTimer {
  dueAt: number;
  payload: unknown;
}

const stuck = new Set<string>();
const committing = new Map<string, number>();

/**
 * Directories of stores with a commit still under way, or whose close did not finish. Called
 * when a process is about to exit, it names commits that are stuck (on a lock another process
 * holds, on a dead disk): lmdb-js waits for them in its exit hook, so such a process cannot end
 * with `process.exit` and must be killed (`sluice run` does).
 */
export function stuckStateStores(): readonly string[] {
  return [...new Set([...stuck, ...committing.keys()])];
}

/**
 * Opens (or creates) the LMDB state store of one topology instance in `dir`. See
 * `src/state/types.ts` for what it holds and how keys are partitioned.
 *
 * ```ts
 * const store = openStateStore({ dir: '.sluice/orders', topology: 'orders' });
 * store.commit([{ namespace: 'stock', key: 'sku-1', value: { onHand: 3 } }]);
 * store.get('stock', 'sku-1'); // { onHand: 3 }
 * await store.close();
 * ```
 *
 * @throws StateDirectoryError when `dir` is a file, cannot be created or is not writable
 * (UnsupportedStateDirectoryError: on /proc or another pseudo-filesystem;
 * StateDirectoryInUseError: another live process has it open);
 * InvalidConfigError for bad options or when the store was created for another topology or
 * partition count.
 */
export function openStateStore(config: StateStoreConfig): StateStore {
  const partitions = config.partitions ?? DEFAULT_PARTITIONS;
  const mapSizeBytes = config.mapSizeBytes ?? DEFAULT_MAP_SIZE_BYTES;
  const maxNamespaces = config.maxNamespaces ?? DEFAULT_MAX_NAMESPACES;
  validate(config, partitions, mapSizeBytes, maxNamespaces);
  const dir = config.dir;
  prepareStateDirectory(dir);
  const release = claimStateDirectory(dir);

  let env: RootDatabase;
  let closeEnv: () => Promise<void>;
  try {
    ({ env, close: closeEnv } = sharedEnv(dir, () =>
      lmdb().open({ path: dir, maxDbs: maxNamespaces, mapSize: mapSizeBytes, noSync: config.noSync === true, noSubdir: false }),
    ));
  } catch (err) {
    release();
    throw new StateDirectoryError(dir, `LMDB cannot open a store there (${(err as Error).message}): use a directory on a local disk (SLUICE_STATE_DIR)`, {
      cause: err,
    });
  }

  const dbs = new Map<string, Database>();
  // A database first opened inside a write transaction that then aborts loses its handle (LMDB
  // drops the dbi with the transaction): such names are forgotten and reopened on next use.
  let openedInTxn: string[] | undefined;
  const db = (name: string): Database => {
    let d = dbs.get(name);
    if (d === undefined) {
      const binary = name === DB.timersDue;
      d = env.openDB(name, binary ? { encoding: 'binary' } : { sharedStructuresKey: STRUCTURES });
      dbs.set(name, d);
      openedInTxn?.push(name);
    }
    return d;
  };
  const userDb = (namespace: string): Database => {
    checkNamespace(namespace);
    return db(namespace);
  };

  for (const name of Object.values(DB)) db(name);
  const meta = db(DB.meta);
  const existing = meta.get('meta') as Meta | undefined;
  if (existing === undefined) {
    meta.putSync('meta', { topology: config.topology, partitions, version: 1 } satisfies Meta);
  } else {
    if (existing.topology !== config.topology) {
      void closeEnv();
      release();
      throw new InvalidConfigError(
        'openStateStore',
        'topology',
        `is '${config.topology}' but the store in '${dir}' belongs to topology '${existing.topology}'`,
      );
    }
    if (existing.partitions !== partitions) {
      void closeEnv();
      release();
      throw new InvalidConfigError(
        'openStateStore',
        'partitions',
        `is ${partitions} but the store in '${dir}' was created with ${existing.partitions} (keys would map to other partitions)`,
      );
    }
  }

  const stats = { commits: 0 };
  let closed = false;
  // Checked before every commit: `getStats()` also walks the free list and every database's
  // stats (~0.1-0.6 ms), while the last page number alone is one native call.
  const nativeEnv = (env as unknown as { env?: { info?: () => { lastPageNumber: number } } }).env;
  const pageSize = (env.getStats() as { pageSize: number }).pageSize;
  const usedBytes = (): number => {
    const info = nativeEnv?.info?.() ?? (env.getStats() as { lastPageNumber: number });
    return (info.lastPageNumber + 1) * pageSize;
  };
  const part = (key: string): number => partitionOf(key, partitions);

  // In a batch each write returns a promise, rejected with the batch when the commit fails;
  // the batch's promise carries that error, so these would only crash the process as unhandled.
  const writer: StateWriter = {
    put: (namespace, key, value) => quiet(userDb(namespace).put([part(key), key], value)),
    delete: (namespace, key) => quiet(userDb(namespace).remove([part(key), key])),
    putCheckpoint: (engine, checkpoint) => quiet(db(DB.checkpoints).put(engine, checkpoint)),
    putOutbox: (engine, record) => quiet(db(DB.outbox).put([engine, record.seq], { createdAt: record.createdAt, blob: record.blob })),
    deleteOutbox: (engine, seq) => quiet(db(DB.outbox).remove([engine, seq])),
    setTimer: (timer) => {
      const k = [timer.owner, part(timer.key), timer.key];
      const old = db(DB.timers).get(k) as StoredTimer | undefined;
      if (old !== undefined) quiet(db(DB.timersDue).remove([old.dueAt, ...k]));
      quiet(db(DB.timers).put(k, { dueAt: timer.dueAt, payload: timer.payload } satisfies StoredTimer));
      quiet(db(DB.timersDue).put([timer.dueAt, ...k], EMPTY));
    },
    cancelTimer: (owner, key) => {
      const k = [owner, part(key), key];
      const old = db(DB.timers).get(k) as StoredTimer | undefined;
      if (old === undefined) return;
      quiet(db(DB.timersDue).remove([old.dueAt, ...k]));
      quiet(db(DB.timers).remove(k));
    },
  };

  const checkWritable = (): void => {
    if (closed) throw new Error(`state store '${dir}' is closed`);
    const used = usedBytes();
    if (used >= mapSizeBytes) {
      throw new StateMapFullError(dir, used, mapSizeBytes);
    }
  };
  const transaction = (fn: (w: StateWriter) => void): void => {
    checkWritable();
    openedInTxn = [];
    try {
      env.transactionSync(() => fn(writer));
    } catch (err) {
      for (const name of openedInTxn) dbs.delete(name);
      throw classifyWriteError(err, dir, mapSizeBytes, usedBytes);
    } finally {
      openedInTxn = undefined;
    }
    stats.commits += 1;
  };

  const transactionAsync = (fn: (w: StateWriter) => void): Promise<void> => {
    checkWritable();
    let queued: Promise<boolean>;
    try {
      // Writes in a batch() callback are only queued; lmdb's writer thread commits them together.
      queued = env.batch(() => fn(writer));
    } catch (err) {
      throw classifyWriteError(err, dir, mapSizeBytes, usedBytes);
    }
    committing.set(dir, (committing.get(dir) ?? 0) + 1);
    const settled = () => {
      const left = (committing.get(dir) ?? 1) - 1;
      if (left > 0) committing.set(dir, left);
      else committing.delete(dir);
    };
    return queued.then(
      () => {
        settled();
        stats.commits += 1;
      },
      async (err: unknown) => {
        settled();
        throw classifyWriteError(await commitCause(err), dir, mapSizeBytes, usedBytes);
      },
    );
  };

  return {
    dir,
    topology: config.topology,
    partitions,
    mapSizeBytes,
    stats,
    partitionOf: part,
    get: <V>(namespace: string, key: string) => userDb(namespace).get([part(key), key]) as V | undefined,
    entries: <V>(namespace: string, options: { partition?: number | undefined } = {}): Iterable<StateEntry<V>> => {
      const d = userDb(namespace);
      const p = options.partition;
      const range = p === undefined ? { start: [0], end: [partitions] } : { start: [p], end: [p + 1] };
      return d.getRange(range).map(({ key, value }) => {
        const [partition, k] = key as [number, string];
        return { partition, key: k, value: value as V };
      });
    },
    transaction,
    transactionAsync,
    commit: (writes: Iterable<StateWrite>) =>
      transaction((w) => {
        for (const write of writes) {
          if (write.delete === true) w.delete(write.namespace, write.key);
          else w.put(write.namespace, write.key, write.value);
        }
      }),
    checkpoint: (engine) => db(DB.checkpoints).get(engine) as Checkpoint | undefined,
    outbox: (engine): Iterable<OutboxRecord> =>
      prefixed(db(DB.outbox), engine, (key, value) => {
        const v = value as { createdAt: number; blob: Uint8Array };
        return { seq: key[1] as number, createdAt: v.createdAt, blob: v.blob };
      }),
    timer: <P>(owner: string, key: string) => {
      const t = db(DB.timers).get([owner, part(key), key]) as StoredTimer | undefined;
      return t === undefined ? undefined : ({ owner, key, dueAt: t.dueAt, payload: t.payload as P } satisfies DurableTimer<P>);
    },
    dueTimers: <P>(nowMs: number, options: { limit?: number | undefined } = {}) => {
      const limit = options.limit ?? Infinity;
      const out: DurableTimer<P>[] = [];
      for (const k of db(DB.timersDue).getKeys({})) {
        if (out.length >= limit || !Array.isArray(k)) break;
        const [dueAt, owner, p, key] = k as [number, string, number, string];
        if (dueAt > nowMs) break;
        const t = db(DB.timers).get([owner, p, key]) as StoredTimer | undefined;
        if (t !== undefined && t.dueAt === dueAt) out.push({ owner, key, dueAt, payload: t.payload as P });
      }
      return out;
    },
    timers: <P>(owner: string): Iterable<DurableTimer<P>> =>
      prefixed(db(DB.timers), owner, (key, value) => {
        const t = value as StoredTimer;
        return { owner, key: key[2] as string, dueAt: t.dueAt, payload: t.payload as P };
      }),
    usedBytes,
    close: async () => {
      if (closed) return;
      closed = true;
      // Released at once, not after the close settles: callers that do not await close() (and
      // a process that starts next on this directory) must not find a stale claim.
      release();
      // After a failed commit lmdb-js's close never settles: do not let it hold up an exit.
      let timer: NodeJS.Timeout | undefined;
      const settled = await Promise.race([
        closeEnv().then(() => true),
        new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), CLOSE_WAIT_MS))),
      ]);
      clearTimeout(timer);
      if (!settled) stuck.add(dir);
    },
  };
}

const EMPTY = Buffer.alloc(0);

/**
 * The lmdb environment of each directory open in this process, and how many stores use it.
 * Several parts of one topology (an actor, a durable batch) open the same directory; each must
 * get the same lmdb environment object, not one each. lmdb-js lets a synchronous transaction take
 * over the batch its own writer thread is committing, but two environment objects on one
 * directory share only LMDB's write lock: one's writer thread can hold it waiting for the rest of
 * a batch from the main thread while the main thread waits for the lock in the other's
 * synchronous transaction — a deadlock seen in CI (gdb: the writer in WaitForCallbacks, the main
 * thread in mdb_txn_begin, two EnvWraps on one MDB_env).
 */
const envs = new Map<string, { env: RootDatabase; users: number }>();

/** The directory's shared environment (opened by `open` for its first user); `close` closes it after its last user. */
function sharedEnv(dir: string, open: () => RootDatabase): { env: RootDatabase; close: () => Promise<void> } {
  const key = resolve(dir);
  const entry = envs.get(key) ?? { env: open(), users: 0 };
  envs.set(key, entry);
  entry.users += 1;
  let closed = false;
  return {
    env: entry.env,
    close: () => {
      if (closed) return Promise.resolve();
      closed = true;
      entry.users -= 1;
      if (entry.users > 0) return Promise.resolve();
      envs.delete(key);
      return entry.env.close();
    },
  };
}

/** Entries whose array key starts with `first`, in key order, mapped by `fn`. Lazy. */
function* prefixed<T>(d: Database, first: string, fn: (key: readonly Key[], value: unknown) => T): Generator<T> {
  for (const { key, value } of d.getRange({ start: [first] })) {
    if (!Array.isArray(key) || key[0] !== first) return;
    yield fn(key, value);
  }
}

function validate(config: StateStoreConfig, partitions: number, mapSizeBytes: number, maxNamespaces: number): void {
  if (typeof config.dir !== 'string' || config.dir.length === 0)
    throw new InvalidConfigError('openStateStore', 'dir', `must be a non-empty path, got ${JSON.stringify(config.dir)}`);
  if (typeof config.topology !== 'string' || config.topology.length === 0)
    throw new InvalidConfigError('openStateStore', 'topology', `must be a non-empty name, got ${JSON.stringify(config.topology)}`);
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 65_536)
    throw new InvalidConfigError('openStateStore', 'partitions', `must be an integer in 1..65536, got ${partitions}`);
  if (!Number.isFinite(mapSizeBytes) || mapSizeBytes < 1024 * 1024)
    throw new InvalidConfigError('openStateStore', 'mapSizeBytes', `must be at least 1048576 (1 MiB), got ${mapSizeBytes}`);
  if (!Number.isInteger(maxNamespaces) || maxNamespaces < 8 || maxNamespaces > 10_000)
    throw new InvalidConfigError('openStateStore', 'maxNamespaces', `must be an integer in 8..10000, got ${maxNamespaces}`);
}

function checkNamespace(namespace: string): void {
  if (typeof namespace !== 'string' || namespace.length === 0) throw new InvalidNamespaceError(String(namespace), 'must be a non-empty string');
  if (namespace.length > 200) throw new InvalidNamespaceError(namespace, 'is longer than 200 characters');
  if (namespace.startsWith(RESERVED_PREFIX)) throw new InvalidNamespaceError(namespace, `names starting with '${RESERVED_PREFIX}' are reserved for Sluice`);
}

/**
 * lmdb-js rejects a failed batch with "Commit failed (see commitError for details)" and the real
 * error (with its code) in a promise under `commitError`: read it, or keep the outer error when
 * it does not come within a second.
 */
async function commitCause(err: unknown): Promise<unknown> {
  const inner = (err as { commitError?: unknown } | null)?.commitError;
  if (inner === undefined || typeof (inner as { then?: unknown }).then !== 'function') return err;
  absorbCommitRejections(inner as object);
  let timer: NodeJS.Timeout | undefined;
  const cause = await Promise.race([
    (inner as Promise<unknown>).then(
      () => err,
      (e: unknown) => e,
    ),
    new Promise<unknown>((resolve) => (timer = setTimeout(() => resolve(err), 1_000))),
  ]);
  clearTimeout(timer);
  return cause;
}

// A failed batch also rejects promises lmdb-js makes for its own writes (shared msgpack
// structures) and never handles: each would crash the process as an unhandled rejection before
// the named error is reported. Those — and only those, for commits this store already turned
// into its error — are absorbed; any other unhandled rejection still ends the process as
// Node's default does.
const absorbedCommits = new WeakSet<object>();
let absorbing = false;
function absorbCommitRejections(commitError: object): void {
  absorbedCommits.add(commitError);
  if (absorbing) return;
  absorbing = true;
  const onUnhandled = (reason: unknown): void => {
    const inner = (reason as { commitError?: unknown } | null)?.commitError;
    if (typeof inner === 'object' && inner !== null && absorbedCommits.has(inner)) return;
    if (process.listenerCount('unhandledRejection') === 1) {
      process.off('unhandledRejection', onUnhandled);
      absorbing = false;
      throw reason;
    }
  };
  process.on('unhandledRejection', onUnhandled);
}

/**
 * Maps LMDB's "map full" to StateMapFullError, and a full disk (ENOSPC or, as tmpfs and some
 * other filesystems report it, EIO with no room left) to StateDiskFullError.
 */
function classifyWriteError(err: unknown, dir: string, mapSizeBytes: number, usedBytes: () => number): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  const used = safe(usedBytes);
  if (code === MDB_MAP_FULL || code === 'MDB_MAP_FULL' || /MDB_MAP_FULL/.test(String((err as Error | null)?.message))) {
    return new StateMapFullError(dir, used, mapSizeBytes, { cause: err });
  }
  if (code === 28 || code === 'ENOSPC' || code === 5 || code === 'EIO') {
    const free = safe(() => {
      const s = statfsSync(dir);
      return s.bavail * s.bsize;
    });
    if (code === 28 || code === 'ENOSPC' || free < 1024 * 1024) return new StateDiskFullError(dir, used, mapSizeBytes, free, { cause: err });
  }
  return err;
}

// All writes of one transaction share one promise: handle each promise once, not per write.
let lastQuieted: unknown;
function quiet(result: unknown): void {
  if (result === lastQuieted || typeof (result as { then?: unknown } | null)?.then !== 'function') return;
  lastQuieted = result;
  (result as Promise<unknown>).then(undefined, () => undefined);
}

function safe(fn: () => number): number {
  try {
    return fn();
  } catch {
    return -1;
  }
}

let lmdbExports: typeof Lmdb | undefined;

/**
 * lmdb (a native addon: ~90 ms and ~10 MiB at start) loads with the first store, so a topology
 * without state never loads it. Required (its CommonJS build, one bundled file) to keep
 * openStateStore synchronous; nothing else in the runtime imports lmdb.
 */
function lmdb(): typeof Lmdb {
  return (lmdbExports ??= createRequire(import.meta.url)('lmdb') as typeof Lmdb);
}
