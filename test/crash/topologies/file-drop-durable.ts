import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defer, from } from 'rxjs';
import { defineTopology } from '../../../src/index.js';
import { fileDrop, settleMap } from '../../../operators/index.js';

interface Order {
  id: string;
  n: number;
}

const PER_FILE = 20;

/**
 * fileDrop (named: a file's outputs get the same ids when it is read again) → settleMap reading
 * each file's orders → durable sink on `<out>.out`. The inbox is `<dir>/inbox`, filled on the
 * first start with `inputs / 20` files of 20 orders `{ id: <name>-<n>, n }` (each written, then
 * renamed in; a start that finds a file missing from both the inbox and `done/` writes it), so
 * every start sees the same files. A file moves to `done/` once its outputs are acknowledged.
 */
export default function fileDropDurable(io: { name: string; out: string; dir: string; inputs: number }) {
  const inbox = join(io.dir, 'inbox');
  const done = join(inbox, 'done');
  mkdirSync(done, { recursive: true });
  for (let f = 0; f * PER_FILE < io.inputs; f++) {
    const name = `orders-${String(f).padStart(4, '0')}.json`;
    if (existsSync(join(inbox, name)) || existsSync(join(done, name))) continue;
    const orders: Order[] = [];
    for (let n = f * PER_FILE + 1; n <= Math.min(io.inputs, (f + 1) * PER_FILE); n++) orders.push({ id: `${io.name}-${n}`, n });
    writeFileSync(join(io.dir, `${name}.tmp`), JSON.stringify(orders));
    renameSync(join(io.dir, `${name}.tmp`), join(inbox, name));
  }
  return defineTopology(io.name, (t) =>
    fileDrop(inbox, { name: 'orders', pattern: '*.json', pollMs: 50, maxInFlight: 4, scheduler: t.scheduler }).pipe(
      t.untilStopped(),
      settleMap({ name: 'read', concurrency: 4, project: (file) => defer(() => from(JSON.parse(readFileSync(file.path, 'utf8')) as Order[])) }),
      t.sink(`${io.out}.out`, { durable: true, name: 'dropped' }),
    ),
  );
}
