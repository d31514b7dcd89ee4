// The `sluice/engine` entry point: the building blocks a topology is made of, for running them
// without one — the exactly-once engine, a durable batch, an actor on its own — and the envelopes
// and settlements for driving operators in plain RxJS (docs/exactly-once.md, docs/actors.md,
// docs/operators-*.md). A topology needs none of this: `sluice` is enough.

// The exactly-once engine
export { startExactlyOnce } from '../exactly-once/index.js';
export type { BatchProcessor, ExactlyOnceConfig, ExactlyOnceHandle, ExactlyOnceStats, ExactlyOnceTxn } from '../exactly-once/index.js';

// A durable batch on the engine (its config types are exported by `sluice`, for `t.durableBatch`):
// started by hand, mounted on a topology's builder, or as a one-part topology for `sluice run`
export { startDurableBatch } from '../exactly-once/start-durable-batch.js';
export { durableBatch, durableBatchTopology } from '../runtime/durable-batch-topology.js';

// An actor on its own: started by hand, or as a one-part topology for `sluice run`
export { startActor } from '../actors/start-actor.js';
export { actorTopology } from '../runtime/actor-topology.js';
export type { RunningActor, StartActorOptions } from '../actors/start-actor.js';
export type { ActorProcessorStats } from '../actors/actor-processor.js';
export type { ActorSubjectKind, ActorSubjects } from '../actors/actor-subjects.js';

// Envelopes and settlements: driving operators outside a topology
export { HEADERS, makeEnvelope } from '../envelope/index.js';
export type { EnvelopeInit } from '../envelope/index.js';
export { decodeEnvelope } from '../codec/index.js';
export { Settlement, currentSettlement, holdCurrent, withSettlement } from '../settle/index.js';
