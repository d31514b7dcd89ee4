import { join } from 'node:path';
import { createWarehouseLoad } from '../../../topologies/warehouse-load.js';

/**
 * topologies/warehouse-load.ts as users run it (its own subjects, streams and name), tuned
 * through its options only: loads of at most 10 changes (or 20 ms) staged in
 * `<dir>/loads/changes`, the "nightly" snapshot every second (UTC) in `<dir>/loads/snapshots`,
 * the row's ack wait, and its LMDB state in the run's directory (the runtime reads
 * `SLUICE_STATE_DIR` when the run starts).
 */
export default function warehouseLoadFixture(io: { ackWaitMs: number; dir: string }) {
  process.env['SLUICE_STATE_DIR'] = join(io.dir, 'state');
  return createWarehouseLoad({
    outDir: join(io.dir, 'loads'),
    maxCount: 10,
    maxWaitMs: 20,
    nightly: { cron: '* * * * * *', tz: 'UTC' },
    ackWaitMs: io.ackWaitMs,
  });
}
