export { startTestDriver, TopologyFailedError, UnconsumedInputError } from './topology-test-driver.js';
export { ManualClock } from './manual-clock.js';
export type { TestDriverOptions, TestInput, TestOutput, TopologyTestDriver } from './topology-test-driver.js';
