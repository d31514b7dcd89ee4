import { join } from 'node:path';
import payroll from '../../../topologies/payroll.js';

/**
 * The payroll topology as users run it (topologies/payroll.ts, fixed subjects and streams), with
 * its LMDB state in the run's directory.
 */
export default function payrollFixture(io: { dir: string }) {
  process.env['SLUICE_STATE_DIR'] = join(io.dir, 'state');
  return payroll;
}
