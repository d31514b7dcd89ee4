export { startTestDriver, UnconsumedInputError } from './topology-test-driver.js';
export { TopologyFailedError } from '../errors.js';
export { ManualClock } from './manual-clock.js';
export { mulberry32 } from './mulberry32.js';
export type { TestDriverOptions, TestInput, TestOutput, TopologyTestDriver } from './topology-test-driver.js';
