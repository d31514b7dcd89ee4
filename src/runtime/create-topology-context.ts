import { join } from 'node:path';
import type { Logger } from '../logger.js';
import { Observable, share, takeUntil, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';
import type { Codec } from '../codec/codec.js';
import { decodeEnvelope } from '../codec/decode-envelope.js';
import { msgpackCodec } from '../codec/msgpack-codec.js';
import { HEADERS, type Envelope } from '../envelope/envelope.js';
import { ensureError, InvalidConfigError } from '../errors.js';
import { hasWildcard, validateSubject } from '../transport/subject.js';
import type { Transport } from '../transport/transport.js';
import { toDeadLetter, type DeadLetterRecord } from '../dead-letter/dead-letter-record.js';
import { enterSettlement, exitSettlement, holdCurrent } from '../settle/settle-scope.js';
import { createSink, encodeForPublish } from './create-sink.js';
import { markSource } from '../observe/lineage.js';
import { mountActor, type MountDeps } from './mount-actor.js';
import { mountDurableBatch } from './mount-durable-batch.js';
import { mountDurableWindow } from './mount-durable-window.js';
import { mountSchedule } from './mount-schedule.js';
import { mountResponder } from './mount-responder.js';
import { actorStateReader } from './actor-state-reader.js';
import { pathGuarantee } from '../observe/path-guarantee.js';
import { defaultDurableName, maxUnsettledOf, streamSource } from './stream-source.js';
import { deadLetterSubject } from '../dead-letter/dead-letter-subject.js';
import type { PublishDeadLetter } from '../dead-letter/dead-letter-scope.js';
import { encodeDeadLetter } from '../dead-letter/encode-dead-letter.js';
import { PartCounters } from '../observe/part-stats.js';
import type { RuntimeStats } from '../observe/runtime-stats.js';
import { checkPayload, validateSchemaOption } from '../schema/check-payload.js';
import { jsonSchemaOf } from '../schema/json-schema-of.js';
import { withLazyJsonSchemas } from '../observe/lazy-json-schemas.js';
import type { PayloadSchema } from '../schema/payload-schema.js';
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
  /** Runs a part the context mounts (an actor, a durable batch, their hand-over pipelines) beside the builder's pipelines; `name` names it in errors. */
  readonly run?: ((part: Observable<unknown>, name: string) => void) | undefined;
  /** See {@link TopologyContext.stateDir}. Default: `SLUICE_STATE_DIR`, else `./.sluice/state`. */
  readonly stateDir?: string | undefined;
  /** See {@link TopologyContext.allowControl}. Default false. */
  readonly allowControl?: boolean | undefined;
  /** Receives a node for each source, stream and sink the builder creates (for `describeTopology`). */
  readonly wire?: ((node: WiringNode) => void) | undefined;
  /** Set to the core-NATS message being pushed through, so a stage that throws on it can dead-letter it. */
  readonly coreInput?: { current: Envelope<Uint8Array> | undefined } | undefined;
}

/**
 * Builds the {@link TopologyContext} a builder gets, and the publisher of its dead letters for
 * sources built without the context (`withDeadLetters`). Internal to the runtime.
 */
export function createTopologyContext(deps: ContextDeps): { ctx: TopologyContext; publishDeadLetter: PublishDeadLetter } {
  const { topologyName, transport, logger, scheduler, stats, stopping$, closing$ } = deps;
  const dlqSubject = deadLetterSubject(topologyName);
  const untilStopped = <T>(): MonoTypeOperatorFunction<T> => takeUntil<T>(stopping$);

  const publishDeadLetter = (full: DeadLetterRecord, msgId?: string): void => {
    try {
      // Cut to the connection's max_payload: a record the server refuses would be lost (core) or redelivered forever (stream).
      const { payload, headers, record } = encodeDeadLetter(full, { maxBytes: transport.maxPayloadBytes });
      stats.recordDeadLetter();
      logger.warn(
        {
          subject: record.subject,
          stream: record.stream,
          seq: record.seq,
          msgId: record.id,
          operator: record.operator,
          error: record.error.name,
          reason: record.error.message,
          bytes: full.payload.length,
          truncated: record.payloadTruncated,
          replayAttempt: record.replayAttempt,
        },
        'dead-lettered a message',
      );
      if (deps.durableDeadLetters) {
        // An input redelivered after a crash is dead-lettered again: an id from its stream position lets the stream keep one record.
        if (msgId !== undefined) headers[HEADERS.msgId] = msgId;
        else if (record.stream !== undefined && record.seq !== undefined)
          headers[HEADERS.msgId] = `sluice-dlq:${record.stream}:${record.seq}:${record.operator}`;
        // The input settles only once its dead letter is stored; if that fails it is redelivered.
        const held = holdCurrent();
        deps.track(
          transport.publishDurable(dlqSubject, payload, { headers }).then(
            () => held?.release(),
            (err: unknown) => {
              // With no input to redeliver, the log lines are all that is left of the record.
              logger.error(
                { subject: record.subject, seq: record.seq, msgId: record.id, err: ensureError(err) },
                held !== undefined ? 'dead letter could not be stored: the input will be redelivered' : 'dead letter could not be stored',
              );
              held?.fail(ensureError(err));
              held?.release();
            },
          ),
        );
      } else {
        transport.publish(dlqSubject, payload, { headers });
      }
    } catch (err) {
      logger.error({ subject: full.subject, seq: full.seq, msgId: full.id, err: ensureError(err) }, 'dead letter could not be published');
    }
  };

  const deadLetter = (env: Envelope<unknown>, thrown: unknown, operator = `topology:${topologyName}`, attempts = 1): void =>
    publishDeadLetter(toDeadLetter(env, thrown, attempts, { operator, failedAt: scheduler.now() }));

  // Decode and schema failures are dead-lettered here so no source ever errors on bad bytes.
  const decodeOr = <T>(raw: Envelope<Uint8Array>, codec: Codec, operator: string, schema?: PayloadSchema, decode = true): Envelope<T> | undefined => {
    stats.recordReceived(raw.subject);
    // `decode: false`: the envelope as it came, its bytes for a later `decodeBatch`.
    return decode ? decodeOrDeadLetter<T>(raw, codec, operator, schema) : (raw as Envelope<unknown> as Envelope<T>);
  };
  const decodeOrDeadLetter = <T>(raw: Envelope<Uint8Array>, codec: Codec, operator: string, schema: PayloadSchema | undefined): Envelope<T> | undefined => {
    try {
      const env = decodeEnvelope<T>(raw, codec);
      // The decoded envelope goes on (not the schema's output) so its bytes can still be forwarded as they came.
      if (schema !== undefined) checkPayload(schema, env.data, raw);
      return env;
    } catch (err) {
      deadLetter(raw, err, operator);
      return undefined;
    }
  };

  const source = <T>(subject: string, options: SourceOptions = {}): Observable<Envelope<T>> => {
    validateSubject(subject, { wildcards: true });
    validateSchemaOption(options.schema, `source '${subject}'`);
    const decode = decodeOption(options, `source '${subject}'`);
    const node = payloadOf({ kind: 'source', subject, queue: options.queue }, options);
    deps.wire?.(node);
    const codec = options.codec ?? msgpackCodec;
    const counters = new PartCounters('source', `source ${subject}`);
    stats.registerPart(counters);
    const operator = `source:${subject}`;
    // A subject without wildcards is the subject of every message: its count is bumped directly.
    const fixedSubject = !hasWildcard(subject);
    let received: { n: number } | undefined;
    const env$ = new Observable<Envelope<T>>((subscriber) => {
      // takeUntil(closing$) without an operator between the transport and the pipeline.
      subscriber.add(closing$.subscribe(() => subscriber.complete()));
      if (subscriber.closed) return;
      subscriber.add(
        transport.subscribe(subject, { queue: options.queue }).subscribe({
          // Outside any settlement: an in-process publish may deliver inside another input's scope.
          // (enter/exit rather than withSettlement: no closure per message on this hot path.)
          next: (raw) => {
            const previous = enterSettlement(undefined);
            const input = deps.coreInput;
            const previousInput = input?.current;
            if (input !== undefined) input.current = raw;
            try {
              counters.in++;
              if (fixedSubject) (received ??= stats.receivedCount(subject)).n++;
              else stats.recordReceived(raw.subject);
              const env = decode ? decodeOrDeadLetter<T>(raw, codec, operator, options.schema) : (raw as Envelope<unknown> as Envelope<T>);
              if (env === undefined) counters.deadLetters++;
              else {
                counters.out++;
                subscriber.next(env);
              }
            } finally {
              if (input !== undefined) input.current = previousInput;
              exitSettlement(previous);
            }
          },
          error: (err: unknown) => subscriber.error(err),
          complete: () => subscriber.complete(),
        }),
      );
    });
    // One subscription however many pipelines read it, as `stream`: a pipeline the runtime
    // restarts after a stage threw rejoins it at once, so no delivery queued for it is dropped.
    return markSource(env$.pipe(share()), node);
  };

  const streamReaders = new Map<string, number>();
  const stream = <T>(streamName: string, subjects: string | readonly string[], options: StreamSourceOptions = {}): Observable<Envelope<T>> => {
    const list = typeof subjects === 'string' ? [subjects] : [...subjects];
    if (list.length === 0) throw new InvalidConfigError('stream', 'subjects', `must name at least one subject for stream '${streamName}'`);
    for (const s of list) validateSubject(s, { wildcards: true });
    validateSchemaOption(options.schema, `stream '${streamName}'`);
    decodeOption(options, `stream '${streamName}'`);
    for (const field of ['maxUnsettled', 'maxInFlight', 'ackWaitMs', 'maxDeliveries', 'redeliveryDelayMs', 'reReadUnackedWithinMs'] as const) {
      const v = options[field];
      const min = field === 'redeliveryDelayMs' || field === 'reReadUnackedWithinMs' ? 0 : 1;
      if (v !== undefined && !(Number.isInteger(v) && v >= min))
        throw new InvalidConfigError(`stream '${streamName}'`, field, `must be an integer >= ${min}, got ${v}`);
    }
    const readerKey = `${streamName}\u0000${options.filterSubject ?? ''}`;
    const ordinal = (streamReaders.get(readerKey) ?? 0) + 1;
    streamReaders.set(readerKey, ordinal);
    const durableName = options.durableName ?? defaultDurableName(topologyName, streamName, options.filterSubject, ordinal);
    const ordered = options.ordered === true;
    const counters = new PartCounters('stream', `stream ${streamName}${options.filterSubject !== undefined ? ` (${options.filterSubject})` : ''}`);
    stats.registerPart(counters);
    const env$ = streamSource<T>(
      { topologyName, transport, logger, scheduler, closing$, decodeOr, deadLetter, unsettled: { add: (n) => stats.recordUnsettled(n) }, counters },
      streamName,
      list,
      durableName,
      options,
      options.codec ?? msgpackCodec,
    );
    const maxUnsettled = ordered ? undefined : maxUnsettledOf(options);
    const node = payloadOf(
      {
        kind: 'stream',
        stream: streamName,
        // What this read consumes: the filter's subject when it has one, else all of the stream's.
        subject: options.filterSubject ?? list.join(', '),
        durableName: ordered ? undefined : durableName,
        ordered,
        maxUnsettled,
        ...(list.length > 1 || options.filterSubject !== undefined ? { subjects: list } : {}),
        ...(options.filterSubject !== undefined ? { filterSubject: options.filterSubject } : {}),
      },
      options,
    );
    deps.wire?.(node);
    // One consumer however many pipelines read this Observable: separate subscriptions to one
    // durable consumer would split its messages between them. Each message reaches every
    // pipeline inside its settlement, so it settles when all of them are done with it.
    return markSource(env$.pipe(share()), node);
  };

  const sink = createSink({
    topologyName,
    transport,
    stats,
    logger,
    now: () => scheduler.now(),
    deadLetter,
    publishDeadLetter,
    wire: ({ name, subject, trace, durable, subjects, payload, stream }) => {
      deps.wire?.(
        withLazyJsonSchemas(
          {
            kind: 'sink',
            name,
            subject,
            durable,
            ...(subjects !== undefined ? { subjects } : {}),
            ...(stream !== undefined ? { stream } : {}),
            paths: trace.sources.map((source) => pathGuarantee(source, trace.stages, { durable })),
            incomplete: trace.incomplete || undefined,
          },
          { payload },
        ),
      );
    },
  });

  const publish = (subject: string, value: unknown, options: PublishValueOptions = {}): void => {
    validateSubject(subject, { wildcards: false });
    const { bytes, headers } = encodeForPublish(subject, value, options.codec ?? msgpackCodec, options.headers);
    transport.publish(subject, bytes, { headers });
    stats.recordPublished(subject);
  };

  const ctx: TopologyContext = {
    topologyName,
    stateDir: deps.stateDir ?? process.env['SLUICE_STATE_DIR'] ?? join(process.cwd(), '.sluice', 'state'),
    allowControl: deps.allowControl === true,
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
    declare: (node) => deps.wire?.(node),
    untilStopped,
    onStop: deps.onStop,
    report: deps.report,
    actor: (def, input, options) => mountActor(mountDeps, def, input, options),
    actorState: (def) => actorStateReader(mountDeps, def),
    durableBatch: (options, inputs) => mountDurableBatch(mountDeps, options, inputs),
    durableWindow: (options, inputs) => mountDurableWindow(mountDeps, options, inputs),
    schedule: (name, cron, options) => mountSchedule(ctx, name, cron, options),
    respond: (subject, handler, options) => mountResponder(mountDeps, subject, handler, options),
  };
  const mountDeps: MountDeps = { ctx, run: deps.run ?? (() => undefined), wire: deps.wire, actors: new Map() };
  return { ctx, publishDeadLetter };
}

/** An edge's node with its `payload`: the published JSON Schema, derived when first read. */
function payloadOf(node: WiringNode, options: SourceOptions | StreamSourceOptions): WiringNode {
  return withLazyJsonSchemas(node, { payload: () => jsonSchemaOf(options.schema, options.jsonSchema) });
}

/** The `decode` option of a source: a boolean, and false only without a schema (nothing decoded to check). */
function decodeOption(options: { decode?: boolean | undefined; schema?: PayloadSchema | undefined }, component: string): boolean {
  const { decode } = options;
  if (decode !== undefined && typeof decode !== 'boolean') throw new InvalidConfigError(component, 'decode', `must be a boolean, got ${String(decode)}`);
  if (decode === false && options.schema !== undefined) {
    throw new InvalidConfigError(
      component,
      'schema',
      'cannot be checked with decode: false (nothing is decoded); check the envelopes decodeBatch emits instead',
    );
  }
  return decode !== false;
}
