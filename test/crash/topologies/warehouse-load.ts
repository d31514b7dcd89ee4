import { join } from 'node:path';
import { createWarehouseLoad } from '../../../topologies/warehouse-load.js';

/**
 * topologies/warehouse-load.ts under the crash harness's names: change events from the row's
 * input stream, loads of at most 10 changes (or 20 ms) staged in `<dir>/loads/changes`, the
 * "nightly" snapshot every second (UTC) in `<dir>/loads/snapshots`, both `LoadReady` events into
 * the row's output stream (`<out>.changes`, `<out>.snapshot`).
 */
export default function warehouseLoadFixture(io: { name: string; stream: string; subjects: string; out: string; ackWaitMs: number; dir: string }) {
  const out = `${io.stream.slice(0, -'_IN'.length)}_OUT`;
  return createWarehouseLoad({
    name: io.name,
    outDir: join(io.dir, 'loads'),
    maxCount: 10,
    maxWaitMs: 20,
    nightly: { cron: '* * * * * *', tz: 'UTC' },
    subjects: { changes: io.subjects, changeLoads: `${io.out}.changes`, snapshotLoads: `${io.out}.snapshot` },
    streams: { changes: io.stream, changeLoads: out, snapshotLoads: out },
    ackWaitMs: io.ackWaitMs,
  });
}
