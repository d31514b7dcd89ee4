// Core: envelopes, codecs, errors
export { HEADERS, makeEnvelope } from './envelope/index.js';
export type { Envelope, EnvelopeInit } from './envelope/index.js';
export { codecFor, codecNamed, decodeEnvelope, jsonCodec, msgpackCodec } from './codec/index.js';
export type { Codec, CodecName } from './codec/index.js';
export {
  BufferOverflowError,
  DecodeError,
  EncodeError,
  ensureError,
  InvalidConfigError,
  InvalidSubjectError,
  NoRespondersError,
  RequestTimeoutError,
  TerminalError,
  TopologyFailedError,
  TransportError,
} from './errors.js';
export type { MessageOrigin } from './errors.js';

// Transports
export { LocalTransport } from './transport/local-transport.js';
export type { LocalTransportOptions } from './transport/local-transport.js';
export { NatsTransport } from './transport/nats-transport.js';
export { NATS_ENV, natsConnectOptionsFromEnv, natsCredentialsFromEnv, redactConnectOptions, redactUrl } from './transport/nats-connect-options.js';
export type { NatsConnectOptions, NatsCredentials, NatsTlsOptions } from './transport/nats-connect-options.js';
export { subjectMatches, subjectsOverlap, validateSubject } from './transport/subject.js';
export type {
  AckPublisher,
  AckPublisherConfig,
  AckPublishMessage,
  ConnectionEvent,
  ConsumeOptions,
  DurablePublishOptions,
  OrderedMessage,
  OrderedReader,
  OrderedReadOptions,
  PubAck,
  PublishOptions,
  RequestOptions,
  StreamConfig,
  StreamInfo,
  StreamMessage,
  StreamState,
  SubscribeOptions,
  Transport,
} from './transport/transport.js';

// State (LMDB)
export { openStateStore, fnv1a32, partitionOf, InvalidNamespaceError, StateDirectoryError, StateDirectoryInUseError, StateDiskFullError, StateFullError, StateMapFullError, UnsupportedStateDirectoryError } from './state/index.js';
export { MAX_STATE_KEY_BYTES, StateKeyTooLongError } from './state/state-key.js';
export type {
  Checkpoint,
  DurableTimer,
  OutboxRecord,
  StateEntry,
  StateStore,
  StateStoreConfig,
  StateStoreStats,
  StateWrite,
  StateWriter,
} from './state/index.js';

// Logging: the one logger type (pino's subset)
export type { Logger } from './logger.js';
export { childLogger, silentLogger } from './logger.js';

// Exactly-once engine
export { startExactlyOnce, BatchFailedError, EngineStoppedError, TxnMisuseError } from './exactly-once/index.js';
export type {
  BatchProcessor,
  ExactlyOnceConfig,
  ExactlyOnceHandle,
  ExactlyOnceStats,
  ExactlyOnceTxn,
  FaultContext,
  FaultPoint,
} from './exactly-once/index.js';

// Durable batches: batchUntil's LMDB buffer, and the exactly-once durable batch on the engine
export { lmdbBatchBuffer } from './state/lmdb-batch-buffer.js';
export type { LmdbBatchBuffer, LmdbBatchBufferConfig } from './state/lmdb-batch-buffer.js';
export { startDurableBatch } from './exactly-once/start-durable-batch.js';
export { durableBatch, durableBatchTopology } from './exactly-once/durable-batch-topology.js';
export type { DurableBatchTopologyOptions } from './exactly-once/durable-batch-topology.js';
export type { DurableLateRecord, DurableWindowAggregate, DurableWindowCut, DurableWindowKind, DurableWindowResult } from './exactly-once/durable-window-types.js';
export type { DurableWindowInputs, TopologyDurableWindowOptions } from './runtime/mount-durable-window.js';
export type {
  BatchEmit,
  BatchFlush,
  BatchRecord,
  DurableBatchConfig,
  DurableBatchHandle,
  DurableBatchStats,
  FlushChunkInfo,
  LateRecord,
  PeriodGroup,
  PeriodsConfig,
} from './exactly-once/durable-batch-types.js';

// Settling: acknowledging an input only once the effects it caused are complete
export { Settlement, currentSettlement, holdCurrent, withSettlement } from './settle/index.js';
export type { Guarantee, PathGuarantee } from './runtime/path-guarantee.js';

// Runtime: topologies, running them, connecting
export { defineTopology, isTopology } from './runtime/define-topology.js';
export type { DefineTopologyOptions, Topology } from './runtime/define-topology.js';
export { supervised } from './runtime/supervised.js';
export { DEFAULT_SUPERVISION } from './settle/supervision.js';
export type { SupervisionMode } from './settle/supervision.js';
export type { RestartSettings } from './runtime/pipeline-supervisor.js';
export { runTopology } from './runtime/run-topology.js';
export type { RunTopologyOptions, RunningTopology, StopReason, TopologyExit } from './runtime/run-topology.js';
export type {
  PublishValueOptions,
  SinkOptions,
  SinkTarget,
  SourceOptions,
  StreamSourceOptions,
  TopologyBuilder,
  TopologyContext,
  TopologyOutput,
  WiringNode,
} from './runtime/types.js';
export { describeTopology, formatTopologyDescription } from './runtime/describe-topology.js';
export type { TopologyDescription, TopologyPath } from './runtime/describe-topology.js';
export { serveTopologyService, serviceSubject } from './runtime/serve-topology-service.js';
export type { TopologyServiceOptions } from './runtime/serve-topology-service.js';
export type { PartKind, PartState, PartStats } from './runtime/part-stats.js';
export type { TopologyHealth, TopologyStats } from './runtime/topology-stats.js';
export { toDeadLetter, deadLettered, isDeadLettered, REPLAY_HEADERS } from './dead-letter/dead-letter-record.js';
export type { DeadLetterContext, DeadLetterRecord, DeadLettered } from './dead-letter/dead-letter-record.js';
export { replayDeadLetters } from './runtime/replay-dead-letters.js';
export type { ReplayDeadLettersOptions, ReplayResult, ReplayedRecord } from './runtime/replay-dead-letters.js';
export { readDeadLetters } from './dead-letter/read-dead-letters.js';
export type { DeadLetterEntry, DeadLetterFilter, DeadLetterPage, DeadLetterStatus, ReadDeadLettersOptions, ReplayMarker } from './dead-letter/read-dead-letters.js';
export { enableTracing, disableTracing } from './trace/enable-tracing.js';
export type { TracingOptions } from './trace/enable-tracing.js';
export { parseTraceparent, formatTraceparent } from './trace/parse-traceparent.js';
export type { Traceparent } from './trace/parse-traceparent.js';
export { RuntimeStats } from './runtime/runtime-stats.js';
export { NoReplyError, RESPOND_HEADERS } from './runtime/mount-responder.js';
export type { RespondFallbackReason, RespondHandler, RespondOptions } from './runtime/mount-responder.js';
export type { TopologyScheduleOptions } from './runtime/mount-schedule.js';
export type { ConnectionStats, StatsSnapshot } from './runtime/runtime-stats.js';
export { deadLetterSubject, deadLetterStreamName, deadLetterStreamConfig, REPLAYED_PART } from './dead-letter/dead-letter-subject.js';
export { DEAD_LETTER_HEADERS, decodeDeadLetter, encodeDeadLetter } from './dead-letter/encode-dead-letter.js';
export type { EncodeDeadLetterOptions } from './dead-letter/encode-dead-letter.js';
export { NoSinkTargetError } from './runtime/create-sink.js';
export { connect, CONNECT_ENV } from './runtime/connect.js';
export type { Connection, ConnectionMode, ConnectOptions } from './runtime/connect.js';
export { startNatsServer, NatsServerNotFoundError } from './runtime/nats-server-process.js';
export type { NatsServerHandle, NatsServerOptions } from './runtime/nats-server-process.js';

// Actors: keyed state + behaviour on the exactly-once engine
export { actor } from './actors/actor.js';
export { startActor } from './actors/start-actor.js';
export { actorTopology } from './actors/actor-topology.js';
export type { ActorTopologyOptions } from './actors/actor-topology.js';
export type { RunningActor, StartActorOptions } from './actors/start-actor.js';
export { createActorProcessor, actorNamespaces } from './actors/actor-processor.js';
export type { ActorNamespaces, ActorProcessor, ActorProcessorOptions, ActorProcessorStats, ActorRecord, TimerFiring } from './actors/actor-processor.js';
export { actorSubjects, keyToken, keyFromToken } from './actors/actor-subjects.js';
export type { ActorAddress, ActorSubjectKind, ActorSubjects } from './actors/actor-subjects.js';
export { tellActor, askActor, queryActorState, queryActorStatus, resetActorKey } from './actors/actor-client.js';
export type { ActorStateAnswer, AskActorOptions, TellOptions } from './actors/actor-client.js';
export { serveActorQueries, ACTOR_QUERY_HEADERS } from './actors/serve-actor-queries.js';
export type { ActorStatus, ServeActorQueriesOptions } from './actors/serve-actor-queries.js';
export { TimerService } from './actors/timer-service.js';
export type { TimerServiceOptions } from './actors/timer-service.js';
export { REPLY_TO_HEADER } from './actors/run-behaviour.js';
export { KeyStoppedError, InvalidActorKeyError } from './actors/actor-errors.js';
export { KeyTooLongError } from './actors/actor-errors.js';
export { MAX_ACTOR_KEY_BYTES, MAX_TIMER_ID_BYTES } from './actors/actor-limits.js';
export type {
  ActorBehaviour,
  ActorConfig,
  ActorContext,
  ActorDefinition,
  ActorInput,
  ActorMessage,
  AskOptions,
  StoredTimer,
  RetrySupervision,
  Supervision,
  TimerFired,
  TimerListener,
  TimerWhen,
} from './actors/types.js';

// Payload schemas (Standard Schema) and the wire contract (`sluice describe --json`)
export { checkPayload, formatIssuePath } from './schema/check-payload.js';
export { jsonSchemaOf } from './schema/json-schema-of.js';
export { isStandardSchema } from './schema/payload-schema.js';
export type { JsonSchema, PayloadSchema, StandardIssue, StandardResult, StandardSchemaV1 } from './schema/payload-schema.js';
export { PayloadSchemaError } from './schema/payload-schema-error.js';
export { contractOf, describeContract } from './runtime/topology-contract.js';
export type { ContractHeader, ContractSubject, Direction, TopologyContract } from './runtime/topology-contract.js';
export { contractToAsyncApi } from './runtime/contract-to-async-api.js';
export type { AsyncApiDocument } from './runtime/contract-to-async-api.js';
export { deadLetterPayloadSchema } from './dead-letter/dead-letter-payload-schema.js';
export type { OutputsOf } from './runtime/mount-actor.js';
export type { ActorStateReader } from './runtime/actor-state-reader.js';
