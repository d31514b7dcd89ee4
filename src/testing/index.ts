export { startTestDriver } from './topology-test-driver.js';
export type { TestDriverOptions, TestInput, TestOutput, TopologyTestDriver } from './topology-test-driver.js';
