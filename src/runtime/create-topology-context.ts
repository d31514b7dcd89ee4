import type { Logger } from 'pino';
import { defer, from, mergeMap, Observable, takeUntil, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';
import type { Codec } from '../codec/codec.js';
import { decodeEnvelope } from '../codec/decode-envelope.js';
import { msgpackCodec } from '../codec/msgpack-codec.js';
import type { Envelope } from '../envelope/envelope.js';
import { ensureError, InvalidConfigError } from '../errors.js';
import { validateSubject } from '../transport/subject.js';
import type { StreamMessage, Transport } from '../transport/transport.js';
import { toDeadLetter, type DeadLetterRecord } from '../dead-letter/dead-letter-record.js';
import { createSink, encodeForPublish } from './create-sink.js';
import { deadLetterSubject, encodeDeadLetter } from './dead-letter.js';
import type { RuntimeStats } from './runtime-stats.js';
import type { PublishValueOptions, SourceOptions, StreamSourceOptions, TopologyContext, WiringNode } from './types.js';

/** What the runtime hands the context; the context owns no lifecycle itself. */
export interface ContextDeps {
  readonly topologyName: string;
  readonly transport: Transport;
  readonly logger: Logger;
  readonly scheduler: SchedulerLike;
  readonly stats: RuntimeStats;
  readonly signal: AbortSignal;
  /** Emits (and replays) once draining starts: timers and generators stop. */
  readonly stopping$: Observable<void>;
  /** Emits (and replays) once what was published before draining has been delivered: sources complete. */
  readonly closing$: Observable<void>;
  /** Dead letters go to JetStream (`publishDurable`) when a dead-letter stream exists. */
  readonly durableDeadLetters: boolean;
  /** Registers async work (durable publishes) that the drain must wait for. */
  readonly track: (work: Promise<unknown>) => void;
  readonly onStop: (hook: () => void | Promise<void>) => void;
  readonly report: (line: string) => void;
  /** Receives a node for each source, stream and sink the builder creates (for `describeTopology`). */
  readonly wire?: ((node: WiringNode) => void) | undefined;
}

/** Builds the {@link TopologyContext} a builder gets. Internal to the runtime. */
export function createTopologyContext(deps: ContextDeps): TopologyContext {
  const { topologyName, transport, logger, scheduler, stats, stopping$, closing$ } = deps;
  const dlqSubject = deadLetterSubject(topologyName);
  const untilStopped = <T>(): MonoTypeOperatorFunction<T> => takeUntil<T>(stopping$);

  const publishDeadLetter = (record: DeadLetterRecord): void => {
    try {
      const { payload, headers } = encodeDeadLetter(record);
      stats.recordDeadLetter();
      logger.warn(
        { subject: record.subject, stream: record.stream, seq: record.seq, msgId: record.id, operator: record.operator, error: record.error.name, reason: record.error.message, bytes: record.payload.length },
        'dead-lettered a message',
      );
      if (deps.durableDeadLetters) {
        deps.track(
          transport.publishDurable(dlqSubject, payload, { headers }).catch((err: unknown) =>
            // The record cannot be stored: the log line above and this one are all that is left of it.
            logger.error({ subject: record.subject, seq: record.seq, msgId: record.id, err: ensureError(err) }, 'dead letter could not be stored'),
          ),
        );
      } else {
        transport.publish(dlqSubject, payload, { headers });
      }
    } catch (err) {
      logger.error({ subject: record.subject, seq: record.seq, msgId: record.id, err: ensureError(err) }, 'dead letter could not be published');
    }
  };

  const deadLetter = (env: Envelope<unknown>, thrown: unknown, operator = `topology:${topologyName}`): void =>
    publishDeadLetter(toDeadLetter(env, thrown, 1, { operator, failedAt: scheduler.now() }));

  // Decode failures are dead-lettered here so no source ever errors on bad bytes.
  const decodeOr = <T>(raw: Envelope<Uint8Array>, codec: Codec, operator: string): Envelope<T> | undefined => {
    stats.recordReceived(raw.subject);
    try {
      return decodeEnvelope<T>(raw, codec);
    } catch (err) {
      deadLetter(raw, err, operator);
      return undefined;
    }
  };

  const source = <T>(subject: string, options: SourceOptions = {}): Observable<Envelope<T>> => {
    validateSubject(subject, { wildcards: true });
    deps.wire?.({ kind: 'source', subject, queue: options.queue });
    const codec = options.codec ?? msgpackCodec;
    return new Observable<Envelope<T>>((subscriber) =>
      transport
        .subscribe(subject, { queue: options.queue })
        .pipe(takeUntil(closing$))
        .subscribe({
          next: (raw) => {
            const env = decodeOr<T>(raw, codec, `source:${subject}`);
            if (env !== undefined) subscriber.next(env);
          },
          error: (err: unknown) => subscriber.error(err),
          complete: () => subscriber.complete(),
        }),
    );
  };

  const stream = <T>(streamName: string, subjects: string | readonly string[], options: StreamSourceOptions = {}): Observable<Envelope<T>> => {
    const list = typeof subjects === 'string' ? [subjects] : [...subjects];
    if (list.length === 0) throw new InvalidConfigError('stream', 'subjects', `must name at least one subject for stream '${streamName}'`);
    for (const s of list) validateSubject(s, { wildcards: true });
    deps.wire?.({ kind: 'stream', stream: streamName, subject: list.join(', '), durableName: options.durableName });
    const codec = options.codec ?? msgpackCodec;
    const durable = options.durableName !== undefined;
    const messages$ = defer(() =>
      from(transport.ensureStream({ name: streamName, subjects: list, maxAgeMs: options.maxAgeMs, storage: options.storage })),
    ).pipe(
      mergeMap(() =>
        transport.consume({
          stream: streamName,
          durableName: options.durableName,
          startSeq: options.startSeq,
          filterSubject: options.filterSubject,
          maxInFlight: options.maxInFlight,
        }),
      ),
      takeUntil<StreamMessage>(closing$),
    );
    return new Observable<Envelope<T>>((subscriber) =>
      messages$.subscribe({
        next: (msg) => {
          const env = decodeOr<T>(msg, codec, `stream:${streamName}`);
          if (env === undefined) {
            if (durable) msg.term();
            return;
          }
          subscriber.next(env);
          // Acked once the pipeline has taken it; async stages after this are at-most-once.
          if (durable) msg.ack();
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      }),
    );
  };

  const makeSink = createSink({ transport, stats, now: () => scheduler.now(), deadLetter, publishDeadLetter });
  const sink: TopologyContext['sink'] = (target, options) => {
    const operator = makeSink(target, options);
    const subject =
      typeof target === 'string'
        ? target
        : options?.subjects !== undefined && options.subjects.length > 0
          ? options.subjects.join(', ')
          : target === undefined
            ? "(each Routed value's `to`)"
            : '(chosen per value)';
    deps.wire?.({ kind: 'sink', subject, durable: options?.durable === true });
    return operator;
  };

  const publish = (subject: string, value: unknown, options: PublishValueOptions = {}): void => {
    validateSubject(subject, { wildcards: false });
    const { bytes, headers } = encodeForPublish(subject, value, options.codec ?? msgpackCodec, options.headers);
    transport.publish(subject, bytes, { headers });
    stats.recordPublished(subject);
  };

  return {
    topologyName,
    transport,
    logger,
    scheduler,
    signal: deps.signal,
    stats,
    deadLetterSubject: dlqSubject,
    source,
    stream,
    sink,
    publish,
    deadLetter,
    untilStopped,
    onStop: deps.onStop,
    report: deps.report,
  };
}
