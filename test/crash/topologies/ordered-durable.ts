import { map } from 'rxjs';
import { defineTopology, type Envelope } from '../../../src/index.js';

interface Order {
  id: string;
  n: number;
}

/**
 * An ordered read (`ordered: true`: nothing acknowledged, every start reads again from
 * `startSeq`) → map → durable sink. At-least-once: a restart does everything again, so nothing is
 * lost and most outputs come more than once (the outputs carry no ids to drop them by).
 */
export default function orderedDurable(io: { name: string; stream: string; subjects: string; out: string }) {
  return defineTopology(io.name, (t) =>
    t.stream<Order>(io.stream, io.subjects, { ordered: true }).pipe(
      map((e): Envelope<Order & { double: number }> => ({ ...e, data: { ...e.data, double: e.data.n * 2 } })),
      t.sink(`${io.out}.out`, { durable: true, name: 'ordered' }),
    ),
  );
}
