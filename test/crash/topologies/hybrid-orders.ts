import { join } from 'node:path';
import { createHybridOrders } from '../../../topologies/hybrid-orders.js';

/**
 * The real topologies/hybrid-orders.ts for the crash test (hybrid-orders-crash.test.ts): its
 * subjects and streams are its own, so only the directories come from the run — the carrier
 * inbox and the LMDB state, kept across the restarts of one run.
 */
export default function hybridOrdersFixture(io: { dir: string }) {
  process.env.SLUICE_STATE_DIR = join(io.dir, 'state');
  return createHybridOrders({ inboxDir: join(io.dir, 'inbox') });
}
