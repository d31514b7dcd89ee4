// The `sluice` entry point: what a topology author and the operator of a running topology use.
// Everything else stays importable from its source file for our own tests, but is not part of
// the package surface (test/exports.test.ts and docs/api-report.md pin it). The parts without a
// topology are in `sluice/engine`, every error class in `sluice/errors`.

// Writing a topology
export { defineTopology } from './runtime/define-topology.js';
export type { DefineTopologyOptions, Topology } from './runtime/define-topology.js';
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
export { supervised } from './runtime/supervised.js';
export type { SupervisionMode } from './settle/supervision.js';
export type { RestartSettings } from './runtime/pipeline-supervisor.js';
export type { Guarantee, PathGuarantee } from './observe/path-guarantee.js';
export type { Envelope } from './envelope/index.js';
export { jsonCodec, msgpackCodec } from './codec/index.js';
export type { Codec } from './codec/index.js';
export { checkPayload } from './schema/check-payload.js';
export { jsonSchemaOf } from './schema/json-schema-of.js';
export type { JsonSchema, PayloadSchema, StandardIssue, StandardResult, StandardSchemaV1 } from './schema/payload-schema.js';
export { RESPOND_HEADERS } from './runtime/mount-responder.js';
export type {
  ActorTopologyOptions,
  DurableBatchInputs,
  DurableBatchTopologyOptions,
  DurableWindowInputs,
  OutputsOf,
  RespondFallbackReason,
  RespondHandler,
  RespondOptions,
  TopologyActorOptions,
  TopologyDurableBatchOptions,
  TopologyDurableWindowOptions,
  TopologyScheduleOptions,
} from './runtime/mount-types.js';
export type { ActorStateReader } from './runtime/actor-state-reader.js';
export type { DeadLetterRecord } from './dead-letter/dead-letter-record.js';

// Logging: the one logger type (pino's subset)
export type { Logger } from './logger.js';

// Actors: the definition, and the clients that talk to running actors
export { actor } from './actors/actor.js';
export type {
  ActorBehaviour,
  ActorConfig,
  ActorContext,
  ActorDefinition,
  ActorInput,
  ActorMessage,
  AskOptions,
  ResolvedSupervision,
  RetrySupervision,
  Supervision,
  TimerFired,
  TimerWhen,
} from './actors/types.js';
export { askActor, queryActorState, queryActorStatus, resetActorKey, tellActor } from './actors/actor-client.js';
export type { ActorStateAnswer, AskActorOptions, ResetActorKeyOptions, TellOptions } from './actors/actor-client.js';
export type { ActorAddress } from './actors/actor-subjects.js';
export type { ActorStatus } from './actors/serve-actor-queries.js';

// Durable batches and windows declared on a topology (`t.durableBatch`, `t.durableWindow`)
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
export type {
  DurableLateRecord,
  DurableWindowAggregate,
  DurableWindowCut,
  DurableWindowKind,
  DurableWindowResult,
} from './exactly-once/durable-window-types.js';

// State (LMDB)
export { openStateStore } from './state/index.js';
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

// Running a topology, and connecting to a broker
export { runTopology } from './runtime/run-topology.js';
export type { DrainSummary, RunTopologyOptions, RunningTopology, StopReason, TopologyExit } from './runtime/run-topology.js';
export type { PartKind, PartProvider, PartReading, PartState, PartStats } from './observe/part-stats.js';
export type { TopologyHealth, TopologyStats } from './runtime/topology-stats.js';
export type { ConnectionStats, RuntimeStats, StatsObserver, StatsSnapshot } from './observe/runtime-stats.js';
export { LocalTransport } from './transport/local/local-transport.js';
export type { LocalTransportOptions } from './transport/local/local-transport.js';
export { NatsTransport } from './transport/nats/nats-transport.js';
export { natsConnectOptionsFromEnv, redactConnectOptions } from './transport/nats/nats-connect-options.js';
export type { NatsConnectOptions, NatsTlsOptions } from './transport/nats/nats-connect-options.js';
export { startNatsServer } from './runtime/nats-server-process.js';
export type { NatsServerHandle, NatsServerOptions } from './runtime/nats-server-process.js';
export type {
  AckMessageSource,
  AckPublisher,
  AckPublisherConfig,
  AckPublishMessage,
  ConnectionEvent,
  ConsumeOptions,
  ConsumerState,
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

// Describing a topology and its wire contract (`sluice describe`)
export { describeTopology, formatTopologyDescription } from './runtime/describe-topology.js';
export type { TopologyDescription, TopologyPath } from './runtime/describe-topology.js';
export { describeContract } from './runtime/topology-contract.js';
export type { ContractHeader, ContractSubject, Direction, TopologyContract } from './runtime/topology-contract.js';
export { contractToAsyncApi } from './runtime/contract-to-async-api.js';
export type { AsyncApiDocument } from './runtime/contract-to-async-api.js';

// Dead letters: where they are, reading them, replaying them
export { deadLetterSubject } from './dead-letter/dead-letter-subject.js';
export { decodeDeadLetter } from './dead-letter/encode-dead-letter.js';
export { readDeadLetters } from './dead-letter/read-dead-letters.js';
export type {
  DeadLetterEntry,
  DeadLetterFilter,
  DeadLetterPage,
  DeadLetterStatus,
  ReadDeadLettersOptions,
  ReplayMarker,
} from './dead-letter/read-dead-letters.js';
export { replayDeadLetters } from './runtime/replay-dead-letters.js';
export type { ReplayDeadLettersOptions, ReplayResult, ReplayedRecord } from './runtime/replay-dead-letters.js';

// Tracing (OpenTelemetry)
export { disableTracing, enableTracing } from './trace/enable-tracing.js';
export type { TracingOptions } from './trace/enable-tracing.js';

// The errors a topology throws or catches; every error class is in `sluice/errors`
export { InvalidConfigError, NoRespondersError, RequestTimeoutError, TerminalError, TopologyFailedError, TransportError } from './errors.js';
export type { MessageOrigin } from './errors.js';
export { PayloadSchemaError } from './schema/payload-schema-error.js';
