import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { map, of, timer } from 'rxjs';
import { defineTopology } from '../../../src/index.js';
import { poll, settleMap } from '../../../operators/index.js';

interface Order {
  id: string;
  n: number;
}

/**
 * poll → settleMap (async, random delays) → durable sink on `<out>.out`. The polled "table" is
 * rows 1..inputs (`{ id: <name>-<n>, n }`), 100 a page; the cursor (last row) is kept in a file,
 * written by rename, and saved only once the polled rows' effects are complete. With
 * `deterministic`, a re-read from a cursor yields the same rows, so outputs get ids from it.
 */
export default function pollSettleMap(io: { name: string; out: string; dir: string; inputs: number; deterministic?: boolean }) {
  const cursorFile = join(io.dir, 'cursor.json');
  const load = (): number | undefined => (existsSync(cursorFile) ? (JSON.parse(readFileSync(cursorFile, 'utf8')) as number) : undefined);
  const save = (cursor: number): void => {
    writeFileSync(`${cursorFile}.tmp`, JSON.stringify(cursor));
    renameSync(`${cursorFile}.tmp`, cursorFile);
  };
  const page = (cursor: number) => {
    const to = Math.min(io.inputs, cursor + 100);
    const items: Order[] = [];
    for (let n = cursor + 1; n <= to; n++) items.push({ id: `${io.name}-${n}`, n });
    return { items, cursor: to, more: to < io.inputs };
  };
  return defineTopology(io.name, (t) =>
    poll((cursor: number) => of(page(cursor)), {
      name: 'rows',
      everyMs: 50,
      // The same cursor always reads the same rows: output ids can derive from it (exactly-once).
      deterministic: io.deterministic === true,
      scheduler: t.scheduler,
      cursor: { initial: 0, load: () => of(load()), save: (c) => of(save(c)) },
    }).pipe(
      t.untilStopped(),
      settleMap({
        name: 'square',
        concurrency: 8,
        project: (o) => timer(Math.floor(Math.random() * 10), t.scheduler).pipe(map(() => ({ ...o, square: o.n ** 2 }))),
      }),
      t.sink(`${io.out}.out`, { durable: true, name: 'squares' }),
    ),
  );
}
