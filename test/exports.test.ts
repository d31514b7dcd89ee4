import { describe, expect, expectTypeOf, it } from 'vitest';
import * as operators from '../operators/index.js';
import * as api from '../src/index.js';
import * as testing from '../src/testing/index.js';

// The public surface, written out: a change to it shows up here as a visible diff in review.
describe('public API', () => {
  it('sluice exports exactly these names', () => {
    expect(Object.keys(api).sort()).toEqual([
      "ACTOR_QUERY_HEADERS",
      "BatchFailedError",
      "BufferOverflowError",
      "CONNECT_ENV",
      "DEAD_LETTER_HEADERS",
      "DecodeError",
      "EncodeError",
      "EngineStoppedError",
      "HEADERS",
      "InvalidActorKeyError",
      "InvalidConfigError",
      "InvalidNamespaceError",
      "InvalidSubjectError",
      "KeyStoppedError",
      "KeyTooLongError",
      "LocalTransport",
      "MAX_ACTOR_KEY_BYTES",
      "MAX_STATE_KEY_BYTES",
      "MAX_TIMER_ID_BYTES",
      "NATS_ENV",
      "NatsServerNotFoundError",
      "NatsTransport",
      "NoReplyError",
      "NoRespondersError",
      "NoSinkTargetError",
      "REPLAYED_PART",
      "REPLAY_HEADERS",
      "REPLY_TO_HEADER",
      "RESPOND_HEADERS",
      "RequestTimeoutError",
      "RuntimeStats",
      "Settlement",
      "StateDirectoryError",
      "StateFullError",
      "StateKeyTooLongError",
      "TerminalError",
      "TimerService",
      "TransportError",
      "TxnMisuseError",
      "actor",
      "actorNamespaces",
      "actorSubjects",
      "actorTopology",
      "askActor",
      "codecFor",
      "codecNamed",
      "connect",
      "createActorProcessor",
      "currentSettlement",
      "deadLetterStreamConfig",
      "deadLetterStreamName",
      "deadLetterSubject",
      "deadLettered",
      "decodeDeadLetter",
      "decodeEnvelope",
      "defineTopology",
      "describeTopology",
      "durableBatch",
      "durableBatchTopology",
      "encodeDeadLetter",
      "ensureError",
      "fnv1a32",
      "formatTopologyDescription",
      "holdCurrent",
      "isDeadLettered",
      "isTopology",
      "jsonCodec",
      "keyFromToken",
      "keyToken",
      "lmdbBatchBuffer",
      "makeEnvelope",
      "msgpackCodec",
      "natsConnectOptionsFromEnv",
      "openStateStore",
      "partitionOf",
      "queryActorState",
      "queryActorStatus",
      "readDeadLetters",
      "redactConnectOptions",
      "redactUrl",
      "replayDeadLetters",
      "resetActorKey",
      "runTopology",
      "serveActorQueries",
      "serveTopologyService",
      "serviceSubject",
      "startActor",
      "startDurableBatch",
      "startExactlyOnce",
      "startNatsServer",
      "subjectMatches",
      "subjectsOverlap",
      "tellActor",
      "toDeadLetter",
      "validateSubject",
      "withSettlement",
    ]);
  });

  it('sluice exports the Transport contract types, including what the exactly-once engine uses', () => {
    // Checked by the compiler: a type that stops being exported fails type-checking here.
    expectTypeOf<api.Transport['readOrdered']>().returns.resolves.toEqualTypeOf<api.OrderedReader>();
    expectTypeOf<api.OrderedReader['take']>().returns.toEqualTypeOf<api.OrderedMessage[]>();
    expectTypeOf<api.Transport['ackPublisher']>().parameter(0).toEqualTypeOf<api.AckPublisherConfig<unknown>>();
    expectTypeOf<api.AckPublisher<string>['publish']>().parameter(0).toEqualTypeOf<api.AckPublishMessage>();
    expectTypeOf<api.Transport['findStream']>().returns.resolves.toEqualTypeOf<api.StreamInfo | undefined>();
    expectTypeOf<api.OrderedReadOptions['startSeq']>().toEqualTypeOf<number>();
    expectTypeOf<api.ExactlyOnceConfig['transport']>().toEqualTypeOf<api.Transport>();
    expectTypeOf<api.StartActorOptions['transport']>().toEqualTypeOf<api.Transport>();
    expectTypeOf<api.DurableBatchConfig['transport']>().toEqualTypeOf<api.Transport>();
  });

  it('sluice/operators exports exactly these names', () => {
    expect(Object.keys(operators).sort()).toEqual([
      "CheckTimeoutError",
      "PollFailedError",
      "RouteRuleError",
      "anyOf",
      "backoffDelayMs",
      "batchUntil",
      "check",
      "deadLetter",
      "deadLettered",
      "fileDrop",
      "guardHandler",
      "isDeadLettered",
      "isRetryableByDefault",
      "keyed",
      "memoryBatchBuffer",
      "memoryScheduleState",
      "microBatch",
      "microBatchProcess",
      "onCount",
      "onIdle",
      "onSchedule",
      "onSubject",
      "onWatermark",
      "poll",
      "retryWithBackoff",
      "route",
      "schedule",
      "scheduleStateIn",
      "settleMap",
      "tier",
      "toDeadLetter",
      "window",
    ]);
  });

  it('sluice/testing exports exactly these names', () => {
    expect(Object.keys(testing).sort()).toEqual([
      "ManualClock",
      "TopologyFailedError",
      "UnconsumedInputError",
      "startTestDriver",
    ]);
  });
});
