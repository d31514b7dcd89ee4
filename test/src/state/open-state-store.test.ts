import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../../src/errors.js';
import { openStateStore } from '../../../src/state/open-state-store.js';
import {
  InvalidNamespaceError,
  StateDirectoryError,
  StateDirectoryInUseError,
  StateFullError,
  StateMapFullError,
  UnsupportedStateDirectoryError,
} from '../../../src/state/state-errors.js';
import type { StateStore } from '../../../src/state/types.js';

const dirs: string[] = [];
const stores: StateStore[] = [];
const run = promisify(execFile);

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sluice-state-'));
  dirs.push(d);
  return d;
}
function openIn(dir: string, extra: { partitions?: number; mapSizeBytes?: number; topology?: string } = {}): StateStore {
  const s = openStateStore({ dir, topology: extra.topology ?? 'orders', noSync: true, ...extra });
  stores.push(s);
  return s;
}
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('openStateStore', () => {
  it('stores, reads and deletes values in a namespace, and keeps them across a reopen', async () => {
    const dir = tempDir();
    const store = openIn(dir);
    store.commit([
      { namespace: 'stock', key: 'sku-1', value: { onHand: 3, name: 'bolt' } },
      { namespace: 'stock', key: 'sku-2', value: { onHand: 7, name: 'nut' } },
    ]);
    store.commit([{ namespace: 'stock', key: 'sku-2', delete: true }]);
    expect(store.get('stock', 'sku-1')).toEqual({ onHand: 3, name: 'bolt' });
    expect(store.get('stock', 'sku-2')).toBeUndefined();
    await store.close();
    const again = openIn(dir);
    expect(again.get('stock', 'sku-1')).toEqual({ onHand: 3, name: 'bolt' });
    expect(again.stats.commits).toBe(0);
  });

  it('writes nothing of a transaction whose callback throws', () => {
    const store = openIn(tempDir());
    expect(() =>
      store.transaction((w) => {
        w.put('stock', 'sku-1', 1);
        w.putCheckpoint('e', { stream: 'S', seq: 5, updatedAt: 1 });
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(store.get('stock', 'sku-1')).toBeUndefined();
    expect(store.checkpoint('e')).toBeUndefined();
    expect(store.stats.commits).toBe(0);
  });

  it('commits an async transaction atomically on the writer thread, in call order', async () => {
    const store = openIn(tempDir());
    const a = store.transactionAsync((w) => {
      w.put('n', 'k', 1);
      w.putCheckpoint('e', { stream: 'S', seq: 1, updatedAt: 1 });
    });
    const b = store.transactionAsync((w) => {
      w.put('n', 'k', 2);
      w.putCheckpoint('e', { stream: 'S', seq: 2, updatedAt: 2 });
    });
    await Promise.all([a, b]);
    expect(store.get('n', 'k')).toBe(2);
    expect(store.checkpoint('e')?.seq).toBe(2);
    expect(store.stats.commits).toBe(2);
  });

  it('puts the partition in the key: entries of one partition are exactly the keys that hash to it', () => {
    const store = openIn(tempDir(), { partitions: 4 });
    const keys = Array.from({ length: 50 }, (_, i) => `k${i}`);
    store.commit(keys.map((key) => ({ namespace: 'ns', key, value: key.length })));
    const all = [...store.entries('ns')];
    expect(all.map((e) => e.key).sort()).toEqual([...keys].sort());
    for (let p = 0; p < 4; p++) {
      const inP = [...store.entries('ns', { partition: p })];
      expect(inP.every((e) => e.partition === p && store.partitionOf(e.key) === p)).toBe(true);
      expect(inP.map((e) => e.key)).toEqual(keys.filter((k) => store.partitionOf(k) === p).sort());
    }
  });

  it('refuses to reopen a store with another partition count or topology', async () => {
    const dir = tempDir();
    await openIn(dir, { partitions: 8 }).close();
    expect(() => openIn(dir, { partitions: 16 })).toThrow(InvalidConfigError);
    expect(() => openIn(dir, { partitions: 8, topology: 'other' })).toThrow(/belongs to topology 'orders'/);
  });

  it('rejects bad options and reserved namespaces when used', () => {
    expect(() => openStateStore({ dir: tempDir(), topology: 't', partitions: 0 })).toThrow(/'partitions' must be an integer/);
    expect(() => openStateStore({ dir: tempDir(), topology: '' })).toThrow(InvalidConfigError);
    const store = openIn(tempDir());
    expect(() => store.get('sluice.outbox', 'x')).toThrow(InvalidNamespaceError);
    expect(() => store.commit([{ namespace: '', key: 'x', value: 1 }])).toThrow(InvalidNamespaceError);
  });

  it('says which directory is unusable and why: a file, or under a file', () => {
    const dir = tempDir();
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, 'x');
    expect(() => openStateStore({ dir: file, topology: 't' })).toThrow(StateDirectoryError);
    expect(() => openStateStore({ dir: file, topology: 't' })).toThrow(`state directory '${file}' is unusable: it is a file, not a directory`);
    expect(() => openStateStore({ dir: join(file, 'sub'), topology: 't' })).toThrow(/cannot create it \(a parent path is a file\)/);
  });

  it('throws StateFullError naming mapSizeBytes once the size limit is reached, and writes nothing more', () => {
    const store = openIn(tempDir(), { mapSizeBytes: 1024 * 1024 });
    const blob = 'x'.repeat(1000);
    let error: unknown;
    let written = 0;
    for (let b = 0; b < 100 && error === undefined; b++) {
      try {
        store.commit(Array.from({ length: 100 }, (_, i) => ({ namespace: 'big', key: `${b}-${i}`, value: blob })));
        written += 100;
      } catch (err) {
        error = err;
      }
    }
    expect(error).toBeInstanceOf(StateFullError);
    expect(error).toBeInstanceOf(StateMapFullError);
    expect((error as Error).message).toMatch(/raise 'mapSizeBytes' above 1048576/);
    expect([...store.entries('big')].length).toBe(written);
  });

  it('an async commit past the size limit rejects with StateMapFullError, and nothing of it is written', async () => {
    const store = openIn(tempDir(), { mapSizeBytes: 1024 * 1024 });
    const blob = 'y'.repeat(4000);
    let error: unknown;
    let written = 0;
    for (let b = 0; b < 100 && error === undefined; b++) {
      try {
        await store.transactionAsync((w) => {
          for (let i = 0; i < 50; i++) w.put('big', `${b}-${i}`, blob);
        });
        written += 50;
      } catch (err) {
        error = err;
      }
    }
    expect(error).toBeInstanceOf(StateMapFullError);
    expect((error as Error).message).toContain(`state store '${store.dir}' is full`);
    expect([...store.entries('big')].length).toBe(written);
  });

  it('a directory on /proc (or under it): UnsupportedStateDirectoryError at once, nothing created', () => {
    for (const dir of ['/proc', '/proc/sluice-state/orders']) {
      const started = Date.now();
      expect(() => openStateStore({ dir, topology: 't' })).toThrow(UnsupportedStateDirectoryError);
      expect(() => openStateStore({ dir, topology: 't' })).toThrow(
        `state directory '${dir}' is unusable: it is on a proc filesystem, which cannot hold an LMDB store: set SLUICE_STATE_DIR (or stateDir) to a directory on a local disk`,
      );
      expect(Date.now() - started).toBeLessThan(1_000);
    }
  });

  it('one process per directory: a live owner is refused by pid, a dead one is taken over, and the claim goes at close', async () => {
    const dir = tempDir();
    const ownerFile = join(dir, 'sluice.owner');
    // pid 1 is alive and not this process; without a start time only its liveness counts.
    writeFileSync(ownerFile, JSON.stringify({ pid: 1 }));
    expect(() => openStateStore({ dir, topology: 't' })).toThrow(StateDirectoryInUseError);
    expect(() => openStateStore({ dir, topology: 't' })).toThrow(
      `state directory '${dir}' is unusable: process 1 has it open (one process per state directory)`,
    );
    // A pid that no longer runs: a crashed owner.
    writeFileSync(ownerFile, JSON.stringify({ pid: 2 ** 22 + 17 }));
    const store = openStateStore({ dir, topology: 't' });
    expect(JSON.parse(readFileSync(ownerFile, 'utf8')).pid).toBe(process.pid);
    const again = openStateStore({ dir, topology: 't' }); // the same process may open it twice
    await again.close();
    expect(existsSync(ownerFile)).toBe(true);
    await store.close();
    expect(existsSync(ownerFile)).toBe(false);
  });

  it('keeps checkpoints and the outbox per engine, outbox in sequence order', () => {
    const store = openIn(tempDir());
    store.transaction((w) => {
      w.putCheckpoint('a', { stream: 'IN', seq: 10, updatedAt: 1 });
      for (const seq of [10, 2, 300]) w.putOutbox('a', { seq, createdAt: seq, blob: new Uint8Array([seq % 256]) });
      w.putOutbox('b', { seq: 1, createdAt: 1, blob: new Uint8Array([9]) });
    });
    store.transaction((w) => w.deleteOutbox('a', 10));
    expect(store.checkpoint('a')).toEqual({ stream: 'IN', seq: 10, updatedAt: 1 });
    expect(store.checkpoint('b')).toBeUndefined();
    const a = [...store.outbox('a')];
    expect(a.map((r) => r.seq)).toEqual([2, 300]);
    expect([...a[1]!.blob]).toEqual([300 % 256]);
    expect([...store.outbox('b')].map((r) => r.seq)).toEqual([1]);
  });

  it('keeps durable timers: replace, cancel, due in time order, across a reopen', async () => {
    const dir = tempDir();
    const store = openIn(dir);
    store.transaction((w) => {
      w.setTimer({ owner: 'stock', key: 'sku-1', dueAt: 300, payload: { release: 1 } });
      w.setTimer({ owner: 'stock', key: 'sku-2', dueAt: 100, payload: 'b' });
      w.setTimer({ owner: 'cart', key: 'c-1', dueAt: 200, payload: null });
      w.setTimer({ owner: 'stock', key: 'sku-3', dueAt: 150, payload: 'c' });
    });
    store.transaction((w) => {
      w.setTimer({ owner: 'stock', key: 'sku-1', dueAt: 50, payload: { release: 2 } });
      w.cancelTimer('stock', 'sku-3');
      w.cancelTimer('stock', 'missing');
    });
    await store.close();
    const again = openIn(dir);
    expect(again.dueTimers(200).map((t) => [t.owner, t.key, t.dueAt, t.payload])).toEqual([
      ['stock', 'sku-1', 50, { release: 2 }],
      ['stock', 'sku-2', 100, 'b'],
      ['cart', 'c-1', 200, null],
    ]);
    expect(again.dueTimers(1000, { limit: 1 }).map((t) => t.key)).toEqual(['sku-1']);
    expect(again.dueTimers(49)).toEqual([]);
    expect([...again.timers('stock')].map((t) => t.key).sort()).toEqual(['sku-1', 'sku-2']);
    expect(again.timer('stock', 'sku-3')).toBeUndefined();
  });

  // msgpackr renames '__proto__' keys (a prototype-pollution guard), so they do not round-trip.
  const storableJson = fc.jsonValue().filter((v) => !JSON.stringify(v).includes('"__proto__"'));

  it('equals a Map model after any sequence of commits and reopens (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.array(fc.record({ key: fc.constantFrom('a', 'b', 'c', 'd', 'é', ''), value: fc.option(storableJson, { nil: undefined }) }), { maxLength: 6 }),
            fc.constant('reopen' as const),
          ),
          { maxLength: 12 },
        ),
        async (steps) => {
          const dir = tempDir();
          let store = openIn(dir, { partitions: 3 });
          const model = new Map<string, unknown>();
          for (const step of steps) {
            if (step === 'reopen') {
              await store.close();
              store = openIn(dir, { partitions: 3 });
              continue;
            }
            store.commit(step.map(({ key, value }) => (value === undefined ? { namespace: 'n', key, delete: true as const } : { namespace: 'n', key, value })));
            for (const { key, value } of step) {
              if (value === undefined) model.delete(key);
              else model.set(key, value);
            }
          }
          const actual = new Map([...store.entries('n')].map((e) => [e.key, e.value]));
          expect(actual).toEqual(new Map([...model].map(([k, v]) => [k, JSON.parse(JSON.stringify(v))])));
          for (const [k, v] of model) expect(store.get('n', k)).toEqual(JSON.parse(JSON.stringify(v)));
        },
      ),
      { numRuns: Number(process.env.PROP_RUNS ?? 30) },
    );
  });
});

describe('openStateStore: several stores on one directory in one process (the parts of one topology)', () => {
  it('share one lmdb environment: each sees what the other commits, and closing one leaves the other working', async () => {
    const dir = tempDir();
    const a = openStateStore({ dir, topology: 't' });
    const b = openStateStore({ dir, topology: 't' });
    await a.transactionAsync((w) => w.put('ns', 'k', 1));
    b.transaction((w) => w.put('ns', 'k2', 2));
    expect([b.get('ns', 'k'), a.get('ns', 'k2')]).toEqual([1, 2]);
    await a.close();
    b.transaction((w) => w.put('ns', 'k3', 3));
    await b.transactionAsync((w) => w.put('ns', 'k4', 4));
    expect(b.get('ns', 'k4')).toBe(4);
    await b.close();
    const c = openStateStore({ dir, topology: 't' });
    expect([c.get('ns', 'k'), c.get('ns', 'k3'), c.get('ns', 'k4')]).toEqual([1, 3, 4]);
    await c.close();
  });

  it('commit asynchronously in one while the other commits synchronously in the same turns, without deadlock (a child process, killed after 60 s)', async () => {
    const dir = tempDir();
    const { stdout } = await run(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'shared-env-child.ts'), dir], { timeout: 60_000 });
    expect(stdout.trim()).toBe('done');
  }, 90_000);
});
