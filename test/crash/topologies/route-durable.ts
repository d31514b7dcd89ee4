import { filter, map } from 'rxjs';
import { defineTopology, type Envelope } from '../../../src/index.js';
import { route } from '../../../operators/index.js';

interface Order {
  id: string;
  n: number;
}

/**
 * Stream → filter → map → route → durable sink. Inputs whose `n` is a multiple of 5 are filtered
 * out (settled at once, never output); the rest get `double: 2n` and are routed (mode 'all') to
 * `<out>.even` and/or `<out>.three`, else `<out>.odd`, so some inputs have two outputs (ids `.0`
 * and `.1` under the input's position).
 */
export default function routeDurable(io: { name: string; stream: string; subjects: string; out: string; ackWaitMs: number; maxUnsettled?: number }) {
  return defineTopology(io.name, (t) =>
    t.stream<Order>(io.stream, io.subjects, { ackWaitMs: io.ackWaitMs, maxUnsettled: io.maxUnsettled ?? 256 }).pipe(
      filter((e) => e.data.n % 5 !== 0),
      map((e): Envelope<Order & { double: number }> => ({ ...e, data: { ...e.data, double: e.data.n * 2 } })),
      route({
        name: 'parity',
        mode: 'all',
        rules: [
          { to: `${io.out}.even`, when: (e) => e.data.n % 2 === 0 },
          { to: `${io.out}.three`, when: (e) => e.data.n % 3 === 0 },
        ],
        otherwise: `${io.out}.odd`,
      }),
      t.sink(undefined, { durable: true, name: 'parity' }),
    ),
  );
}
