// The `sluice/errors` entry point: every error class the package throws at a user, one per
// failure kind, to match with `instanceof`. The most common ones are also exported by `sluice`
// (the same classes). Each names the field and value at fault in its message.

// Configuration, payloads and the wire
export {
  BufferOverflowError,
  ControlNotAllowedError,
  DecodeError,
  EncodeError,
  InvalidConfigError,
  InvalidSubjectError,
  NoRespondersError,
  RequestTimeoutError,
  TerminalError,
  TopologyFailedError,
  TransportError,
} from '../errors.js';
export type { MessageOrigin } from '../errors.js';
export { PayloadSchemaError } from '../schema/payload-schema-error.js';

// Running a topology
export { NoSinkTargetError } from '../runtime/create-sink.js';
export { NoReplyError } from '../runtime/mount-responder.js';
export { NatsServerNotFoundError } from '../runtime/nats-server-process.js';
export { InterruptedError } from '../settle/interrupted-error.js';

// State (LMDB)
export {
  BatchBufferCorruptError,
  InvalidNamespaceError,
  StateDirectoryError,
  StateDirectoryInUseError,
  StateDiskFullError,
  StateFullError,
  StateMapFullError,
  UnsupportedStateDirectoryError,
} from '../state/index.js';
export { StateKeyTooLongError } from '../state/state-key.js';

// The exactly-once engine, durable and period batches
export { BatchFailedError, EngineStoppedError, PeriodLabelError } from '../exactly-once/exactly-once-errors.js';
export { TxnMisuseError } from '../exactly-once/batch-txn.js';

// Actors
export { InvalidActorKeyError, KeyStoppedError, KeyTooLongError } from '../actors/actor-errors.js';

// Operators (also exported by `sluice/operators`)
export { CheckTimeoutError } from '../../operators/check.js';
export { PollFailedError } from '../../operators/poll.js';
export { StagedFileMismatchError } from '../../operators/read-staged-files.js';
export { FileOutsideDirError } from '../../operators/file-lines.js';
export { RouteRuleError } from '../../operators/route.js';
