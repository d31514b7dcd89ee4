export { openStateStore } from './open-state-store.js';
export { fnv1a32, partitionOf } from './partition-of.js';
export {
  BatchBufferCorruptError,
  InvalidNamespaceError,
  StateDirectoryError,
  StateDirectoryInUseError,
  StateDiskFullError,
  StateFullError,
  StateMapFullError,
  UnsupportedStateDirectoryError,
} from './state-errors.js';
export type { Checkpoint, DurableTimer, OutboxRecord, StateEntry, StateStore, StateStoreConfig, StateStoreStats, StateWrite, StateWriter } from './types.js';
