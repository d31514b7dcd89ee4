import { describe, expect, expectTypeOf, it } from 'vitest';
import * as operators from '../operators/index.js';
import * as engine from '../src/entry/engine.js';
import * as errors from '../src/entry/errors.js';
import * as api from '../src/index.js';
import * as testing from '../src/testing/index.js';
import { apiModel, formatApiReport, readCheckedInReport, REGENERATE } from './helpers/api-report.js';

// The public surface, written out: a change to it shows up here (values) and in docs/api-report.md
// (values and types) as a visible diff in review.
describe('public API', () => {
  it('sluice exports exactly these values', () => {
    expect(Object.keys(api).sort()).toEqual([
      'InvalidConfigError',
      'LocalTransport',
      'NatsTransport',
      'NoRespondersError',
      'PayloadSchemaError',
      'RESPOND_HEADERS',
      'RequestTimeoutError',
      'TerminalError',
      'TopologyFailedError',
      'TransportError',
      'actor',
      'askActor',
      'checkPayload',
      'contractToAsyncApi',
      'deadLetterSubject',
      'decodeDeadLetter',
      'defineTopology',
      'describeContract',
      'describeTopology',
      'disableTracing',
      'enableTracing',
      'formatTopologyDescription',
      'jsonCodec',
      'jsonSchemaOf',
      'msgpackCodec',
      'natsConnectOptionsFromEnv',
      'openStateStore',
      'queryActorState',
      'queryActorStatus',
      'readDeadLetters',
      'redactConnectOptions',
      'replayDeadLetters',
      'resetActorKey',
      'runTopology',
      'startNatsServer',
      'supervised',
      'tellActor',
    ]);
  });

  it('sluice/operators exports exactly these values', () => {
    expect(Object.keys(operators).sort()).toEqual([
      'BatchBufferCorruptError',
      'CheckTimeoutError',
      'FileOutsideDirError',
      'PollFailedError',
      'RouteRuleError',
      'StagedFileMismatchError',
      'anyOf',
      'backoffDelayMs',
      'batchUntil',
      'calendarPeriodOf',
      'check',
      'deadLettered',
      'decodeBatch',
      'fileBatchBuffer',
      'fileDrop',
      'fileLines',
      'fileSink',
      'guard',
      'guardHandler',
      'isDeadLettered',
      'isRetryableByDefault',
      'keyed',
      'lmdbBatchBuffer',
      'memoryBatchBuffer',
      'memoryScheduleState',
      'microBatch',
      'microBatchProcess',
      'onCount',
      'onIdle',
      'onSchedule',
      'onSubject',
      'onWatermark',
      'poll',
      'readStagedFiles',
      'removeStagedFiles',
      'retryWithBackoff',
      'route',
      'schedule',
      'scheduleStateIn',
      'settleMap',
      'tier',
      'toDeadLetter',
      'window',
      'writeStagedFiles',
    ]);
  });

  it('sluice/testing exports exactly these values', () => {
    expect(Object.keys(testing).sort()).toEqual(['ManualClock', 'TopologyFailedError', 'UnconsumedInputError', 'mulberry32', 'startTestDriver']);
  });

  it('sluice/engine exports exactly these values', () => {
    expect(Object.keys(engine).sort()).toEqual([
      'HEADERS',
      'Settlement',
      'actorTopology',
      'currentSettlement',
      'decodeEnvelope',
      'durableBatch',
      'durableBatchTopology',
      'holdCurrent',
      'makeEnvelope',
      'startActor',
      'startDurableBatch',
      'startExactlyOnce',
      'withSettlement',
    ]);
  });

  it('sluice/errors exports every error class, each one an Error', () => {
    expect(Object.keys(errors).sort()).toEqual([
      'BatchBufferCorruptError',
      'BatchFailedError',
      'BufferOverflowError',
      'CheckTimeoutError',
      'ControlNotAllowedError',
      'DecodeError',
      'EncodeError',
      'EngineStoppedError',
      'FileOutsideDirError',
      'InterruptedError',
      'InvalidActorKeyError',
      'InvalidConfigError',
      'InvalidNamespaceError',
      'InvalidSubjectError',
      'KeyStoppedError',
      'KeyTooLongError',
      'NatsServerNotFoundError',
      'NoReplyError',
      'NoRespondersError',
      'NoSinkTargetError',
      'PayloadSchemaError',
      'PeriodLabelError',
      'PollFailedError',
      'RequestTimeoutError',
      'RouteRuleError',
      'StagedFileMismatchError',
      'StateDirectoryError',
      'StateDirectoryInUseError',
      'StateDiskFullError',
      'StateFullError',
      'StateKeyTooLongError',
      'StateMapFullError',
      'TerminalError',
      'TopologyFailedError',
      'TransportError',
      'TxnMisuseError',
      'UnsupportedStateDirectoryError',
    ]);
    for (const [name, value] of Object.entries(errors)) expect(value.prototype, name).toBeInstanceOf(Error);
  });

  it('an error class exported by two entry points is the same class (instanceof works with either)', () => {
    expect(api.TerminalError).toBe(errors.TerminalError);
    expect(api.InvalidConfigError).toBe(errors.InvalidConfigError);
    expect(testing.TopologyFailedError).toBe(errors.TopologyFailedError);
    expect(operators.RouteRuleError).toBe(errors.RouteRuleError);
  });

  it('exports the types the exported values name, including the Transport contract', () => {
    // Checked by the compiler: a type that stops being exported fails type-checking here.
    expectTypeOf<api.Transport['readOrdered']>().returns.resolves.toEqualTypeOf<api.OrderedReader>();
    expectTypeOf<api.OrderedReader['take']>().returns.toEqualTypeOf<api.OrderedMessage[]>();
    expectTypeOf<api.Transport['ackPublisher']>().parameter(0).toEqualTypeOf<api.AckPublisherConfig<unknown>>();
    expectTypeOf<api.AckPublisher<string>['publish']>().parameter(0).toEqualTypeOf<api.AckPublishMessage>();
    expectTypeOf<api.Transport['findStream']>().returns.resolves.toEqualTypeOf<api.StreamInfo | undefined>();
    expectTypeOf<api.OrderedReadOptions['startSeq']>().toEqualTypeOf<number>();
    expectTypeOf<engine.ExactlyOnceConfig['transport']>().toEqualTypeOf<api.Transport>();
    expectTypeOf<engine.StartActorOptions['transport']>().toEqualTypeOf<api.Transport>();
    expectTypeOf<api.DurableBatchConfig['transport']>().toEqualTypeOf<api.Transport>();
    expectTypeOf<api.ActorStateReader<number>['read']>().returns.toEqualTypeOf<api.ActorStateAnswer<number> | undefined>();
    expectTypeOf<api.TopologyContext['actorState']>().returns.toHaveProperty('get');
  });

  it(`docs/api-report.md is up to date (regenerate: ${REGENERATE})`, () => {
    const model = apiModel();
    // Every type an export names can be imported by a user.
    expect(model.unexported, 'types an export names that no entry point exports').toEqual([]);
    expect(readCheckedInReport(), `docs/api-report.md is out of date: run ${REGENERATE} and commit it`).toBe(formatApiReport(model));
  }, 120_000);
});
