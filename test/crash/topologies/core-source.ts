import { map } from 'rxjs';
import { defineTopology } from '../../../src/index.js';

interface Order {
  id: string;
  n: number;
}

/** Core subject source → map → core sink on `<out>.out`: one `{ id, n }` per input received. */
export default function coreSource(io: { name: string; subjects: string; out: string }) {
  return defineTopology(io.name, (t) =>
    t.source<Order>(io.subjects).pipe(
      map((e) => ({ id: e.data.id, n: e.data.n })),
      t.sink(`${io.out}.out`),
    ),
  );
}
