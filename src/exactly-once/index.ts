export { startExactlyOnce } from './start-exactly-once.js';
export { BatchFailedError, EngineStoppedError } from './exactly-once-errors.js';
export { TxnMisuseError } from './batch-txn.js';
export type { BatchProcessor, ExactlyOnceConfig, ExactlyOnceHandle, ExactlyOnceStats, ExactlyOnceTxn, FaultContext, FaultPoint } from './types.js';
