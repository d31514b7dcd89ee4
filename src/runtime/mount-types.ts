import type { Observable } from 'rxjs';
import type { StartActorOptions } from '../actors/start-actor.js';
import type { Codec } from '../codec/codec.js';
import type { Envelope } from '../envelope/envelope.js';
import type { DurableBatchConfig } from '../exactly-once/durable-batch-types.js';
import type { DurableWindowAggregate, DurableWindowCut } from '../exactly-once/durable-window-types.js';
import type { ScheduleTiming } from '../../operators/schedule.js';
import type { JsonSchema, PayloadSchema } from '../schema/payload-schema.js';
import type { ScheduleState } from '../state/schedule-state.js';
import type { StateStore } from '../state/types.js';
import type { StreamConfig } from '../transport/transport.js';

// The options and inputs of the parts a topology mounts (`t.actor`, `t.durableBatch`,
// `t.durableWindow`, `t.schedule`, `t.respond`) and of their engines run alone. They live apart
// from the mount-*.ts files because `TopologyContext` (types.ts) names them while every mount
// takes a `TopologyContext`: here neither side imports the other.

/** Options of {@link actorTopology}. */
export interface ActorTopologyOptions extends Omit<StartActorOptions, 'transport' | 'store' | 'log' | 'scheduler'> {
  /**
   * Directory holding the topology's LMDB state (`<stateDir>/<topology>`). Default: the
   * `SLUICE_STATE_DIR` environment variable, else `./.sluice/state`. On the in-process transport
   * the state goes to a temporary directory for the run instead.
   */
  stateDir?: string | undefined;
  /** Streams to create (or extend) before starting, e.g. where the behaviour emits. */
  ensureStreams?: readonly { name: string; subjects: readonly string[] }[] | undefined;
  /** One status line every this many ms; 0 = none. Default 5000. */
  reportEveryMs?: number | undefined;
  /**
   * Payload schemas by subject (any Standard Schema), for the input `subjects` and the subjects
   * the behaviour emits on. An input whose payload does not match its subject's schema is
   * dead-lettered (with the failing field paths) before the behaviour sees it; `describe`
   * publishes the JSON Schema of each (zod gives its own; see `jsonSchemas` for other libraries).
   */
  schemas?: Readonly<Record<string, PayloadSchema>> | undefined;
  /** JSON Schemas by subject for `describe`, where `schemas` are not zod schemas. */
  jsonSchemas?: Readonly<Record<string, JsonSchema>> | undefined;
}

/** Options of {@link TopologyContext.actor}. */
export interface TopologyActorOptions extends Omit<ActorTopologyOptions, 'stream' | 'subjects' | 'ensureStreams'> {
  /**
   * The actor's own input stream, holding what the topology hands it (on its `.tell` subjects),
   * its timers and resets. Default `SLUICE_ACTOR_<topology>_<actor>`.
   */
  stream?: string | undefined;
  /**
   * Subjects from outside that `stream` captures and the actor reads itself, in stream order
   * from its committed position (no hand-over): for an actor fed by a stream of its own, whose
   * per-key order must hold across crashes. `schemas` may name their payload schemas (checked
   * where the key is taken, as in `actorTopology`). Default none.
   */
  subjects?: readonly string[] | undefined;
  /**
   * Where the behaviour emits: this stream is created (or extended) with these subjects, and the
   * Observable `t.actor` returns reads it (a durable consumer: at-least-once downstream, each
   * output carrying the actor's exactly-once `Nats-Msg-Id`). Without it the returned Observable
   * emits nothing; outputs still go to their subjects.
   */
  emits?: OutputsOf | undefined;
}

/** Where an actor or durable batch emits, and the payload contract of each output subject. */
export interface OutputsOf {
  readonly stream: string;
  readonly subjects: readonly string[];
  /**
   * Payload schemas by output subject (any Standard Schema), published by `describe`; key them
   * by the concrete subjects emitted (`shop.stock.reserved`), which `subjects` capture.
   */
  readonly schemas?: Readonly<Record<string, PayloadSchema>> | undefined;
  /** JSON Schemas by subject for `describe`, where `schemas` are not zod schemas. */
  readonly jsonSchemas?: Readonly<Record<string, JsonSchema>> | undefined;
  /**
   * `t.actor` only: whether the Observable it returns reads the outputs back from `stream` (a
   * durable consumer). Default true; false when nothing in the topology reads them, so no
   * consumer is made or described and `t.actor` returns an Observable that emits nothing.
   */
  readonly readBack?: boolean | undefined;
}

/** Options of {@link durableBatch} / {@link durableBatchTopology}. */
export interface DurableBatchTopologyOptions extends Omit<DurableBatchConfig, 'transport' | 'store' | 'logger' | 'scheduler'> {
  /**
   * The state store to use (one per topology). Default: opened at `<stateDir>/<topology>` and
   * closed when the run drains; on the in-process transport, a temporary one for the run.
   */
  store?: StateStore | undefined;
  /** Default: the `SLUICE_STATE_DIR` environment variable, else `./.sluice/state`. Unused on the in-process transport. */
  stateDir?: string | undefined;
  /** Streams to create (or extend) before starting: the source (values + trigger subjects) and the outputs. */
  ensureStreams?: readonly StreamConfig[] | undefined;
  /** Period batches: the stream to create for `periods.lateSubject` when no stream captures it yet. Default: none (create it yourself). */
  lateStream?: string | undefined;
  /** One status line every this many ms; 0 = none. Default 5000. */
  reportEveryMs?: number | undefined;
}

/** Options of {@link TopologyContext.durableBatch}. */
export interface TopologyDurableBatchOptions extends Omit<DurableBatchTopologyOptions, 'source' | 'triggerSubjects' | 'ensureStreams' | 'lateStream'> {
  /** The batch's own input stream (values and triggers, in one order). Default `SLUICE_BATCH_<topology>_<name>`. */
  stream?: string | undefined;
  /** Where `flush` emits: created (or extended), and read by the returned Observable. See `t.actor`'s `emits`. */
  emits?: OutputsOf | undefined;
}

/** The inputs of {@link TopologyContext.durableBatch}. */
export interface DurableBatchInputs {
  /** What goes into the open batch. */
  readonly values: Observable<Envelope<unknown>>;
  /**
   * What closes it ("end of day", "file received"): any message; a schedule can publish one.
   * Optional when `maxItems` cuts the batches. With `periods`, the closes: each names the period
   * it closes (`periods.closeOf`).
   */
  readonly triggers?: Observable<Envelope<unknown>> | undefined;
}

/** Options of {@link TopologyContext.durableWindow}. */
export interface TopologyDurableWindowOptions<T, A> extends DurableWindowCut {
  /** Stable name: LMDB namespace, engine, own stream and output ids. Letters, digits, `-` and `_`. */
  name: string;
  /** A value's event time, epoch ms. Default: its envelope's `eventTime` (`Sluice-Event-Time`, else when it arrived). */
  eventTime?: ((env: Envelope<T>) => number) | undefined;
  /** Windows per key (account, SKU). Default: one set of windows for everything. Keys up to 1000 UTF-8 bytes. */
  keyOf?: ((env: Envelope<T>) => string) | undefined;
  /**
   * How a window folds its events (required: a durable window keeps one accumulator per window,
   * not its events; to keep every event, use `t.durableBatch`).
   */
  aggregate: DurableWindowAggregate<T, A>;
  /** Where closed windows are published (msgpack `DurableWindowResult`); one of `emits.subjects`. */
  subject: string;
  /** Where late events are published (msgpack `DurableLateRecord`); one of `emits.subjects`. */
  lateSubject: string;
  /** The stream capturing `subject` and `lateSubject` (created or extended); the returned Observable reads it. */
  emits: OutputsOf;
  /** The window's own input stream (values, closes, idle ticks). Default `SLUICE_WINDOW_<topology>_<name>`. */
  stream?: string | undefined;
  /** Events that cannot be folded go here. Default `sluice.dlq.<topology>.<name>` (kept in the topology's dead-letter stream). */
  deadLetterSubject?: string | undefined;
  /** Default: the topology's `stateDir`. */
  stateDir?: string | undefined;
  /** One status line every this many ms; 0 = none. Default 5000. */
  reportEveryMs?: number | undefined;
  /** Input micro-batching of the engine (see `startExactlyOnce`). */
  batch?: { maxCount?: number | undefined; maxWaitMs?: number | undefined } | undefined;
}

/** The inputs of {@link TopologyContext.durableWindow}. */
export interface DurableWindowInputs<T> {
  /** The events to window. */
  readonly values: Observable<Envelope<T>>;
  /**
   * Messages that move the watermark to their `eventTime` (like the `window` operator's
   * `advanceOn`), e.g. `t.schedule(...)` at 00:00 on the 3rd, or a "period final" event: the
   * windows that end (plus `allowedLatenessMs`) by then close, at that position in the stream.
   * Several sources as an array (merged here, so `describe` still follows each one's path).
   */
  readonly closes?: Observable<Envelope<unknown>> | readonly Observable<Envelope<unknown>>[] | undefined;
}

/** Options of {@link TopologyContext.schedule}. */
export interface TopologyScheduleOptions extends ScheduleTiming {
  /** Where the schedule records what ran. Default: LMDB at `<stateDir>/<topology>.schedules` (a temp dir on the in-process transport). */
  state?: ScheduleState | undefined;
}

/** Why the fallback answered: no reply within `deadlineMs`, or `maxInFlight` requests already running. */
export type RespondFallbackReason = 'deadline' | 'overloaded';

/** What a responder's handler returns: the reply, or a Promise / Observable of it (its first value). */
export type RespondHandler<Req, Rep> = (request: Envelope<Req>) => Rep | PromiseLike<Rep> | Observable<Rep>;

/** Options of {@link TopologyContext.respond}. */
export interface RespondOptions<Req, Rep> {
  /** The reply goes out within this, ms from the request's arrival: the handler's, else the fallback's. */
  deadlineMs: number;
  /** The reply when the handler is too slow or too many requests are running; a function of the request. */
  fallback: (request: Envelope<Req>, reason: RespondFallbackReason) => Rep;
  /** Names the responder in dead letters (`respond:<name>`) and logs. Default: the subject. */
  name?: string | undefined;
  /** Queue group, so the topology's instances share the requests. Default `sluice.<topology>`. */
  queue?: string | undefined;
  /** Encodes replies. Default: the request's own `Content-Type` (JSON in, JSON out), else MessagePack. */
  codec?: Codec | undefined;
  /** Requests being handled at once; one more is answered by the fallback (`'overloaded'`) at once. Default 1000. */
  maxInFlight?: number | undefined;
  /** Dead-letter a request whose handling failed (besides the error reply). Default true. */
  deadLetterErrors?: boolean | undefined;
  /**
   * The requests' schema: a request that does not match gets an error reply (code 400) and goes to
   * the dead letters as a `PayloadSchemaError`; the handler never sees it. Published by `describe`.
   */
  schema?: PayloadSchema | undefined;
  /** The JSON Schema `describe` publishes for the requests when `schema` is not a zod schema. */
  jsonSchema?: JsonSchema | undefined;
  /** The replies' schema, published by `describe` (a declaration: replies are not validated). */
  replySchema?: PayloadSchema | undefined;
  /** The JSON Schema `describe` publishes for the replies when `replySchema` is not a zod schema. */
  replyJsonSchema?: JsonSchema | undefined;
}
