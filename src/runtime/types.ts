import type { Logger } from '../logger.js';
import type { MonoTypeOperatorFunction, Observable, SchedulerLike } from 'rxjs';
import type { Codec } from '../codec/codec.js';
import type { Envelope } from '../envelope/envelope.js';
import type { Transport } from '../transport/transport.js';
import type { ActorDefinition } from '../actors/types.js';
import type {
  DurableBatchInputs,
  DurableWindowInputs,
  RespondHandler,
  RespondOptions,
  TopologyActorOptions,
  TopologyDurableBatchOptions,
  TopologyDurableWindowOptions,
  TopologyScheduleOptions,
} from './mount-types.js';
import type { ScheduleRun } from '../../operators/schedule.js';
import type { JsonSchema, PayloadSchema } from '../schema/payload-schema.js';
import type { RuntimeStats } from '../observe/runtime-stats.js';
import type { ActorStateReader } from './actor-state-reader.js';
import type { WiringNode } from '../observe/wiring-node.js';

export type { WiringNode } from '../observe/wiring-node.js';

/** Options for {@link TopologyContext.source}. */
export interface SourceOptions {
  /** Queue group: instances of the topology share the messages instead of each getting all. */
  queue?: string | undefined;
  /**
   * Decode each message (default true). `false`: pass the envelopes on as they came, `data` the
   * bytes, for a batch that decodes them all at once at its cut (`decodeBatch` in
   * `sluice/operators`), which costs less per event than decoding each on arrival. Not with `schema`.
   */
  decode?: boolean | undefined;
  /** Codec for messages without a `Content-Type` header. Default msgpack. */
  codec?: Codec | undefined;
  /**
   * The payload contract of this edge (any Standard Schema: zod 4, valibot, ArkType...). Each
   * decoded message is validated before anything else sees it; one that does not match goes to
   * the dead letters with a `PayloadSchemaError` naming the subject, sequence and failing field
   * paths (`items[2].sku: expected string`), and the stream carries on. The data passed on is
   * the value as decoded (the schema checks; its transforms and defaults are not applied, so the
   * original bytes can still be forwarded unchanged). `describe` publishes its JSON Schema.
   */
  schema?: PayloadSchema | undefined;
  /** The JSON Schema `describe` publishes for this edge when `schema` is not a zod schema (which gives its own). */
  jsonSchema?: JsonSchema | undefined;
}

/** Options for {@link TopologyContext.stream}. */
export interface StreamSourceOptions {
  /**
   * Durable consumer name. Default `sluice_<topology>_<stream>` (plus the filter subject, and an
   * ordinal when the topology reads the same stream twice). The consumer resumes where the last
   * run left off; a message is acknowledged only when every effect it caused is complete.
   */
  durableName?: string | undefined;
  /**
   * Read with an ordered consumer from `startSeq` and acknowledge nothing, for replays and
   * inspection: every start (a restart after a crash too) reads again from `startSeq`, so nothing
   * is lost and what was done is done again (at-least-once). Default false.
   */
  ordered?: boolean | undefined;
  /** First stream sequence to read (when the consumer is first created). Default 1. */
  startSeq?: number | undefined;
  /** Only messages on this subject (nats-server 2.9: one filter per consumer). */
  filterSubject?: string | undefined;
  /**
   * Messages delivered but not yet settled, at most (the consumer's `max_ack_pending`): the
   * broker stops delivering at this bound, so memory stays bounded over any backlog. Size it
   * above the largest batch a downstream operator holds. Default 1000.
   */
  maxUnsettled?: number | undefined;
  /** @deprecated Same as `maxUnsettled`. */
  maxInFlight?: number | undefined;
  /** Redeliver a message not settled (nor kept alive) within this, ms. Default 30000. */
  ackWaitMs?: number | undefined;
  /**
   * Restart in stream order: when the last run left messages delivered but unsettled (it
   * crashed) and its last delivery was less than this long ago, the consumer is moved back to
   * its ack floor, so those messages come again in stream order before any newer one (JetStream
   * alone would redeliver them after their ack wait, behind newer ones). Messages past the floor
   * that were settled come again: hand-overs (`t.actor`, `t.durableBatch`) drop them by message
   * id within the duplicate window (2 min by default), which this default stays under; other
   * paths are at-least-once anyway. Not done while another instance pulls from the consumer.
   * 0: never. Default 60000. See docs/guarantees.md (per-key order).
   */
  reReadUnackedWithinMs?: number | undefined;
  /**
   * Deliveries of a message whose effects keep failing before it is dead-lettered (then
   * acknowledged). Default 5.
   */
  maxDeliveries?: number | undefined;
  /** Delay before the first redelivery of a message whose effects failed, ms; doubles per delivery, up to 30 s. Default 1000. */
  redeliveryDelayMs?: number | undefined;
  /**
   * Decode each message (default true). `false`: pass the envelopes on as they came, `data` the
   * bytes, for a batch that decodes them all at once at its cut (`decodeBatch` in
   * `sluice/operators`), which costs less per event than decoding each on arrival. Not with `schema`.
   */
  decode?: boolean | undefined;
  /** Codec for messages without a `Content-Type` header. Default msgpack. */
  codec?: Codec | undefined;
  /** Retention of the stream when this call creates it, ms. Default 0 (forever). */
  maxAgeMs?: number | undefined;
  /** Default 'file'. */
  storage?: 'file' | 'memory' | undefined;
  /**
   * The payload contract of this edge (any Standard Schema: zod 4, valibot, ArkType...). Each
   * decoded message is validated before anything else sees it; one that does not match goes to
   * the dead letters with a `PayloadSchemaError` naming the subject, sequence and failing field
   * paths (`items[2].sku: expected string`), and the stream carries on. The data passed on is
   * the value as decoded (the schema checks; its transforms and defaults are not applied, so the
   * original bytes can still be forwarded unchanged). `describe` publishes its JSON Schema.
   */
  schema?: PayloadSchema | undefined;
  /** The JSON Schema `describe` publishes for this edge when `schema` is not a zod schema (which gives its own). */
  jsonSchema?: JsonSchema | undefined;
}

/** Where {@link TopologyContext.sink} publishes: a fixed subject, or one chosen per value. */
export type SinkTarget<V> = string | ((value: V) => string);

/** Options for {@link TopologyContext.sink}. */
export interface SinkOptions {
  /** Default msgpack; its content type goes in the `Content-Type` header. */
  codec?: Codec | undefined;
  /**
   * Publish to JetStream and wait for the stream's ack instead of a core publish. The target
   * subject must be bound to a stream. The input is settled only after the ack; outputs of a
   * single stream message carry a deterministic `Nats-Msg-Id`
   * (`<topology>.<sink>.<stream>:<seq>.<n>`), so a redelivery's re-publish is dropped as a
   * duplicate (exactly-once within the stream's duplicate window). Default false.
   */
  durable?: boolean | undefined;
  /**
   * Names the sink in output ids and `describe`. Default: the target subject, else `sink<n>`
   * (its order among the topology's sinks). Keep it stable across deploys: ids depend on it.
   */
  name?: string | undefined;
  /** Durable sinks: publishes awaiting their ack at most; values may pass on out of order. Default 256. */
  maxInFlight?: number | undefined;
  /**
   * The subjects a sink without a fixed target may publish to, so `describeTopology` can list
   * them (documentation only: not enforced).
   */
  subjects?: readonly string[] | undefined;
  /**
   * The payload contract of what this sink publishes (any Standard Schema). `describe` publishes
   * its JSON Schema for every subject of the sink. Each value is validated before it is encoded
   * when `validate` is on: one that does not match is dead-lettered with the failing field paths
   * and not published.
   */
  schema?: PayloadSchema | undefined;
  /** See {@link SourceOptions.jsonSchema}. */
  jsonSchema?: JsonSchema | undefined;
  /** Validate each value against `schema`. Default: on unless `NODE_ENV` is `production` (outputs are checked in tests and development, and cost nothing in production). */
  validate?: boolean | undefined;
  /** The JetStream stream that captures a durable sink's subjects, for `describe` (documentation only). */
  stream?: string | undefined;
}

/** Options for {@link TopologyContext.publish}. */
export interface PublishValueOptions {
  headers?: Readonly<Record<string, string>> | undefined;
  /** Default msgpack. */
  codec?: Codec | undefined;
}

/**
 * What a topology builder gets. Everything it subscribes to through the context is drained by
 * the runtime on stop; everything it publishes is counted in `stats`.
 */
export interface TopologyContext {
  /** The topology's name, as given to `defineTopology`. */
  readonly topologyName: string;
  /**
   * Where mounted actors and durable batches keep their LMDB state (`<stateDir>/<topology>`):
   * `RunTopologyOptions.stateDir`, else `SLUICE_STATE_DIR`, else `./.sluice/state`.
   */
  readonly stateDir: string;
  /**
   * Whether this run acts on control that changes things (dead-letter replay, an actor key's
   * reset): `RunTopologyOptions.allowControl` (`--allow-control`). Default false.
   */
  readonly allowControl: boolean;
  readonly transport: Transport;
  /** Structured logger (pino), bound to the topology name. Never give it secrets. */
  readonly logger: Logger;
  /** The scheduler for all timing in the topology (a `TestScheduler` in marble tests). */
  readonly scheduler: SchedulerLike;
  /** Aborted when the runtime starts draining. */
  readonly signal: AbortSignal;
  /** Per-subject counters of received, published and dead-lettered messages. */
  readonly stats: RuntimeStats;
  /**
   * `sluice.dlq.<topology>`: where bad input goes, with its original bytes (actors and durable
   * batches use `sluice.dlq.<topology>.<part>`; all are kept in `SLUICE_DLQ_<topology>`, see
   * docs/dead-letters.md).
   */
  readonly deadLetterSubject: string;

  /**
   * Core NATS messages on `subject` (wildcards allowed), decoded by their `Content-Type`.
   * Completes when the runtime drains. A message that cannot be decoded goes to the dead
   * letters and the stream carries on. At-most-once: what arrives while nobody listens is gone.
   * One NATS subscription however many pipelines read the returned Observable (each gets every
   * message), so a pipeline restarted by its supervision misses nothing.
   */
  source(subject: string, options: SourceOptions & { decode: false }): Observable<Envelope<Uint8Array>>;
  /** As above; with `decode: false` the envelopes carry the bytes as they came (`decodeBatch` decodes a batch of them). */
  source<T = unknown>(subject: string, options?: SourceOptions): Observable<Envelope<T>>;
  /**
   * Messages of JetStream stream `streamName` (created with `subjects` when missing, subjects
   * added when it exists), decoded like {@link source}, read with a durable consumer. Each message
   * is acknowledged only when every effect it caused is complete (at-least-once; see
   * docs/guarantees.md). The Observable is shared: every pipeline that reads it gets every
   * message from one consumer, and a message settles when all of them are done with it. Call
   * `stream` again (another consumer) for a pipeline that should read at its own pace.
   */
  stream(streamName: string, subjects: string | readonly string[], options: StreamSourceOptions & { decode: false }): Observable<Envelope<Uint8Array>>;
  /** As above; with `decode: false` the envelopes carry the bytes as they came (`decodeBatch` decodes a batch of them). */
  stream<T = unknown>(streamName: string, subjects: string | readonly string[], options?: StreamSourceOptions): Observable<Envelope<T>>;
  /**
   * An operator that encodes and publishes each value to `target`, then passes it on. An
   * envelope publishes its `data` with its headers (minus `Nats-Msg-Id`) plus `Content-Type`,
   * `Sluice-Event-Time` and `Sluice-Key`; any other value is published as it is. What operators
   * emit in-band is understood: a `Routed` goes to its `to` subject (its original bytes
   * forwarded while its `data` is what they decoded to, else encoded; `target` not needed), a
   * `DeadLettered` to the dead letters (and passed on).
   * A value that cannot be encoded, or gets no valid subject, goes to the dead letters and is
   * not passed on. Core publish (at-most-once) unless `durable`.
   */
  sink<V>(target?: SinkTarget<V>, options?: SinkOptions): MonoTypeOperatorFunction<V>;
  /** Encodes and core-publishes one value (at-most-once). */
  publish(subject: string, value: unknown, options?: PublishValueOptions): void;
  /**
   * Sends a message to the dead letters and logs it (without the payload). The message on
   * `sluice.dlq.<topology>` is a msgpack `DeadLetterRecord` (original bytes, subject, stream,
   * seq, error) with the subject, seq and reason also in `Sluice-Dlq-*` headers, cut to fit the
   * connection's max_payload (then it points at the original's stream and seq). `operator`
   * names who gave up (default `topology:<name>`). Never throws.
   */
  deadLetter(env: Envelope<unknown>, error: unknown, operator?: string): void;
  /**
   * Mounts a keyed actor (see `actor`) as a part of this topology. `input` (any pipeline of
   * envelopes, e.g. a routed stream, or an array of them: several streams feeding one actor) is handed to the actor's own input stream through a durable
   * sink with ids from the input positions, and the actor runs on the exactly-once engine, so the
   * path is exactly-once end to end. Returns the actor's outputs when `options.emits` names
   * where they go (else an Observable that emits nothing); {@link actorState} reads its committed state
   * in-process. Needs the LMDB state directory
   * (`stateDir`, `SLUICE_STATE_DIR`).
   */
  actor<S, M, P = unknown>(
    def: ActorDefinition<S, M, P>,
    input?: Observable<Envelope<M>> | readonly Observable<Envelope<M>>[],
    options?: TopologyActorOptions,
  ): Observable<Envelope<unknown>>;
  /**
   * Reads the committed state of the actor `def` that {@link actor} mounted in this topology, in
   * this process (no NATS round trip): for a part that decides from an actor's state, such as a
   * {@link respond} handler. The state is exactly-once (it is the actor's); a read never shows a
   * batch in progress, so it lags the actor's input by the batches not yet committed.
   * @throws InvalidConfigError when no actor named `def.name` was mounted before.
   * @example
   * t.actor(activity, payments);
   * const state = t.actorState(activity);
   * t.respond('fraud.check', async (req) => rules(req.data, (await state.get(req.data.customerId)).state), { deadlineMs: 50, fallback });
   */
  actorState<S>(def: Pick<ActorDefinition<S, never, never>, 'name' | 'initial'>): ActorStateReader<S>;
  /**
   * Mounts a durable batch (see `startDurableBatch`): `inputs.values` accumulate in LMDB until a
   * message on `inputs.triggers` (or `maxItems`) closes the batch, which `flush` then reads in
   * chunks, its outputs exactly once. Inputs reach the batch's own stream as with {@link actor}.
   * With `options.periods`, one batch per key and period, closed per period by the triggers, late
   * values to `periods.lateSubject` (see `PeriodsConfig`).
   */
  durableBatch(options: TopologyDurableBatchOptions, inputs: DurableBatchInputs): Observable<Envelope<unknown>>;
  /**
   * Mounts durable event-time windows (tumbling, sliding, session, or calendar day/week/month in a
   * time zone): `inputs.values` are folded per key and window with `aggregate`, accumulators and
   * watermark in LMDB; each window is published once on `subject` when the watermark (values,
   * idle ticks, `inputs.closes`) passes its end + `allowedLatenessMs`, and late events on
   * `lateSubject` — exactly once, across crashes. Inputs reach the window's own stream as with
   * {@link actor}. Returns what `emits.stream` receives (results and late records). See docs/windows.md.
   */
  durableWindow<T = unknown, A = unknown>(options: TopologyDurableWindowOptions<T, A>, inputs: DurableWindowInputs<T>): Observable<Envelope<unknown>>;
  /**
   * A calendar source (see `schedule` in `sluice/operators`) on the topology's clock, stopped by
   * the drain, recording what ran in the state directory so `catchUp` works across restarts.
   * Use it as `triggers` of {@link durableBatch} or `closes` of {@link durableWindow} (each run is handed over with a replay-stable
   * id, so a run repeated after a crash is a duplicate), or with `onSubject`, `settleMap`.
   */
  schedule(name: string, cron: string, options?: TopologyScheduleOptions): Observable<ScheduleRun>;
  /**
   * Answers core NATS requests on `subject` (wildcards allowed, queue group `sluice.<topology>`):
   * each gets the handler's reply within `deadlineMs`, else `fallback(request, reason)`; a
   * failure gets an error reply (`Nats-Service-Error`, `Nats-Service-Error-Code`) and a dead
   * letter. At-most-once, like any request/reply. See `mountResponder` and docs/runtime.md.
   */
  respond<Req = unknown, Rep = unknown>(subject: string, handler: RespondHandler<Req, Rep>, options: RespondOptions<Req, Rep>): void;
  /**
   * Declares an input or output the runtime cannot see for itself (a part the builder starts by
   * hand, like `actorTopology`'s actor), so `describe` and the contract list it. Does nothing else.
   */
  declare(node: WiringNode): void;
  /** Completes a stream when the runtime starts draining (for timers and generators). */
  untilStopped<T>(): MonoTypeOperatorFunction<T>;
  /** Runs after the pipelines have drained and before the transport is flushed and closed. */
  onStop(hook: () => void | Promise<void>): void;
  /** A one-line human-readable status (the CLI prints it to stdout). */
  report(line: string): void;
}

/**
 * What a builder may return: the pipelines for the runtime to subscribe and drain (one or an
 * array), a subscription it made itself (drained by unsubscribing), or nothing.
 */
export type TopologyOutput = void | Observable<unknown> | readonly Observable<unknown>[] | { unsubscribe(): void };

/** Wires a topology's pipelines; called once per run. Keep it free of I/O: use the context. */
export type TopologyBuilder = (ctx: TopologyContext) => TopologyOutput;
