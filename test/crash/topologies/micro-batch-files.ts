import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defer, of } from 'rxjs';
import { defineTopology, type Envelope } from '../../../src/index.js';
import { microBatchProcess } from '../../../operators/index.js';

interface Order {
  id: string;
  n: number;
}

/**
 * Stream → microBatchProcess (100 values or 50 ms) writing each batch as a file
 * `<dir>/out/out.<firstSeq>-<lastSeq>.json` (a JSON array of `{ id, n }`): written to a temporary
 * name, then renamed into place, so a file is whole or absent, and a replayed batch of the same
 * inputs replaces its own file. Inputs are held until their batch's file is renamed.
 */
export default function microBatchFiles(io: { name: string; stream: string; subjects: string; ackWaitMs: number; dir: string }) {
  const outDir = join(io.dir, 'out');
  mkdirSync(outDir, { recursive: true });
  const write = (batch: Envelope<Order>[]): number => {
    const file = join(outDir, `out.${batch[0]!.seq}-${batch.at(-1)!.seq}.json`);
    writeFileSync(`${file}.tmp`, JSON.stringify(batch.map((e) => ({ id: e.data.id, n: e.data.n }))));
    renameSync(`${file}.tmp`, file);
    return batch.length;
  };
  return defineTopology(io.name, (t) =>
    t
      .stream<Order>(io.stream, io.subjects, { ackWaitMs: io.ackWaitMs, maxUnsettled: 512 })
      .pipe(
        microBatchProcess({ maxCount: 100, maxWaitMs: 50, maxBufferedCount: 500, scheduler: t.scheduler, process: (batch) => defer(() => of(write(batch))) }),
      ),
  );
}
