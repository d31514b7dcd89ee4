import { map } from 'rxjs';
import { defineTopology, type Envelope } from '../../src/index.js';
import { route } from '../../operators/index.js';

/** A soak input: `poison` marks the ones that must end in the dead letters, and how. */
export interface SoakInput {
  id: string;
  n: number;
  poison?: 'throw' | undefined;
}

/**
 * The soak's topology: stream → map (throws on `poison: 'throw'`) → route by parity → durable
 * sink. Undecodable inputs are dead-lettered by the source; a throwing map is dead-lettered by the
 * runtime's supervision (resume), and the pipeline goes on.
 */
export default function soakTopology(io: { name: string; stream: string; subjects: string; out: string; ackWaitMs: number }) {
  return defineTopology(io.name, (t) =>
    t.stream<SoakInput>(io.stream, io.subjects, { ackWaitMs: io.ackWaitMs, maxUnsettled: 256 }).pipe(
      map((e): Envelope<SoakInput & { double: number }> => {
        if (e.data.poison === 'throw') throw new Error(`soak poison ${e.data.id}`);
        return { ...e, data: { ...e.data, double: e.data.n * 2 } };
      }),
      route({ name: 'parity', rules: [{ to: `${io.out}.even`, when: (e) => e.data.n % 2 === 0 }], otherwise: `${io.out}.odd` }),
      t.sink(undefined, { durable: true, name: 'parity' }),
    ),
  );
}
