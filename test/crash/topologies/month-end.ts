import monthEnd from '../../../topologies/month-end.js';

/**
 * The month-end topology itself (topologies/month-end.ts), unchanged, with its LMDB state in the
 * run's directory: the runtime reads `SLUICE_STATE_DIR` when the run starts.
 */
export default function monthEndFixture(params: { dir: string }) {
  process.env['SLUICE_STATE_DIR'] = params.dir;
  return monthEnd;
}
