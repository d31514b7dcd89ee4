// Two state stores on one directory in one process: one commits asynchronously (lmdb's writer
// thread) turn after turn while the other commits synchronously in the same turns. Prints `done`
// and exits when every commit has landed; a deadlock between the two never gets there.
import { openStateStore } from '../../../src/state/open-state-store.js';

const dir = process.argv[2]!;
const a = openStateStore({ dir, topology: 't' });
const b = openStateStore({ dir, topology: 't' });
const pending: Promise<void>[] = [];
for (let i = 0; i < 3_000; i++) {
  pending.push(a.transactionAsync((w) => w.put('a', `k${i % 50}`, i)));
  // Long enough for lmdb's writer thread to take up a's writes while this turn goes on.
  const until = performance.now() + 0.5;
  while (performance.now() < until);
  b.transaction((w) => w.put('b', `k${i % 50}`, i));
  await new Promise((r) => setImmediate(r));
}
await Promise.all(pending);
await b.close();
await a.close();
console.log('done');
