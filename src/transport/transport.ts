import type { Observable, SchedulerLike } from 'rxjs';
import type { Envelope } from '../envelope/envelope.js';

/** Options for a core (at-most-once) publish. */
export interface PublishOptions {
  /** NATS headers; Sluice sets `Content-Type` when it encodes. */
  headers?: Readonly<Record<string, string>> | undefined;
  /** Reply subject for the receiver to answer on. */
  reply?: string | undefined;
}

/** Options for {@link Transport.subscribe}. */
export interface SubscribeOptions {
  /** Queue group: each message goes to one member of the group (load-balanced). */
  queue?: string | undefined;
}

/** Options for {@link Transport.request}. */
export interface RequestOptions {
  /** How long to wait for the first reply, ms. */
  timeoutMs: number;
  headers?: Readonly<Record<string, string>> | undefined;
}

/** A JetStream stream as Sluice needs it; created when missing, subjects added when it exists. */
export interface StreamConfig {
  name: string;
  subjects: readonly string[];
  /**
   * How long the server remembers `Nats-Msg-Id`s to drop re-publishes, ms. Default 120000.
   * It bounds the outage a crash recovery may take without duplicating outputs; the server
   * holds ~185 bytes per id inside the window.
   */
  duplicateWindowMs?: number | undefined;
  /** Discard messages older than this, ms. Default 0 (keep forever). */
  maxAgeMs?: number | undefined;
  /** Default 'file'. */
  storage?: 'file' | 'memory' | undefined;
  /** Keep at most this many messages; the oldest are discarded first. Default unlimited. */
  maxMessages?: number | undefined;
  /** Keep at most this many payload bytes; the oldest messages are discarded first. Default unlimited. */
  maxBytes?: number | undefined;
}

/** Options for a JetStream publish. */
export interface DurablePublishOptions {
  /** Deterministic message id: a re-publish with the same id inside the window is dropped. */
  msgId?: string | undefined;
  headers?: Readonly<Record<string, string>> | undefined;
  /** How long to wait for the stream's ack, ms. Default 5000. */
  timeoutMs?: number | undefined;
}

/** The stream's acknowledgement of a JetStream publish. */
export interface PubAck {
  stream: string;
  seq: number;
  /** True when the server dropped the message as a duplicate of an earlier `msgId`. */
  duplicate: boolean;
}

/** Options for {@link Transport.consume}. */
export interface ConsumeOptions {
  stream: string;
  /**
   * Durable consumer name. With it: a durable pull consumer with explicit acks that resumes where
   * it left off (`startSeq` applies only when it is first created). Without it: an ordered
   * consumer starting at `startSeq`, whose messages need no ack (the caller keeps the position,
   * as the exactly-once runtime does in LMDB).
   */
  durableName?: string | undefined;
  /** First stream sequence to deliver. Default 1. */
  startSeq?: number | undefined;
  /** Only messages on this subject (one filter: nats-server 2.9 has no multi-filter consumers). */
  filterSubject?: string | undefined;
  /** Messages fetched ahead / unacknowledged at most. Default 1000. */
  maxInFlight?: number | undefined;
  /** Durable consumers: redeliver when not acked within this, ms. Default 30000. */
  ackWaitMs?: number | undefined;
  /**
   * Durable consumers: when the consumer has unacknowledged deliveries at start (the last reader
   * crashed), its last delivery was less than this long ago, and no other reader is pulling from
   * it, it is recreated to start at its ack floor + 1, so the unacknowledged messages come again
   * in stream order BEFORE newer ones (JetStream would redeliver them only after the ack wait,
   * after newer ones). Messages past the floor that were acked come again too (duplicates). 0:
   * never; then they come back when their ack wait expires. Default 0 (`t.stream` uses 60000).
   * NatsTransport only: the in-process transport has no crash to recover from.
   */
  reReadUnackedWithinMs?: number | undefined;
}

/**
 * A message consumed from a stream. Ack methods are no-ops for ordered consumers. Only the first
 * `ack`/`nak`/`term` call on a delivered message counts (as in the NATS client); an ack of an
 * earlier delivery of the same message that was not acted on still settles it.
 */
export interface StreamMessage extends Envelope<Uint8Array> {
  readonly stream: string;
  readonly seq: number;
  /** 1 on first delivery. */
  readonly deliveryCount: number;
  ack(): void;
  /** Ask for redelivery, after `delayMs` when given. */
  nak(delayMs?: number): void;
  /** Never redeliver (dead-lettered). */
  term(): void;
  /**
   * Still being worked on: restarts the ack wait, so a message held by a batch or a slow effect
   * is not redelivered meanwhile. No-op for ordered consumers.
   */
  working(): void;
}

/** Position summary of a stream. */
export interface StreamState {
  messages: number;
  firstSeq: number;
  lastSeq: number;
}

/** Where a durable consumer stands ({@link Transport.consumerState}), as JetStream reports it. */
export interface ConsumerState {
  /** Messages in the stream the consumer has not yet delivered (JetStream's `num_pending`): its lag. */
  pending: number;
  /** Delivered and not yet acknowledged (`num_ack_pending`). */
  ackPending: number;
  /** Delivered more than once and not yet acknowledged (`num_redelivered`). */
  redelivered: number;
}

/** What {@link Transport.findStream} tells about the stream capturing a subject. */
export interface StreamInfo extends StreamState {
  name: string;
  subjects: readonly string[];
  /** How long the stream remembers `Nats-Msg-Id`s, ms. */
  duplicateWindowMs: number;
}

/** A message of an ordered read ({@link Transport.readOrdered}); ack methods are no-ops. */
export interface OrderedMessage extends StreamMessage {
  /**
   * When the stream stored the message, epoch ms. It is also the default `eventTime` (instead
   * of the receive time), so reading the same position again sees the same value.
   */
  readonly timestampMs: number;
}

/** Options for {@link Transport.readOrdered}. */
export interface OrderedReadOptions {
  stream: string;
  /** Only messages on this subject (one filter: nats-server 2.9). Default: all. */
  filterSubject?: string | undefined;
  /** First stream sequence to read, >= 1. */
  startSeq: number;
  /** Messages received and not yet taken, plus those asked of the server, at most. */
  maxBuffered: number;
  /** Names server-side resources (`<name>_<unique>`) so operators can tell whose they are. Default 'sluice'. */
  name?: string | undefined;
  /** Called after messages arrive; `take` them. Never called from inside `take`. */
  onAvailable: () => void;
  /**
   * Called when the reader starts over at `nextSeq` (= last received + 1) after a delivery gap,
   * missed heartbeats or a reconnect: messages already taken are not delivered again.
   */
  onReset?: ((info: { reason: string; nextSeq: number }) => void) | undefined;
  /** Called when starting over failed and is retried after `retryInMs`. */
  onRetry?: ((info: { error: Error; attempt: number; retryInMs: number }) => void) | undefined;
}

/**
 * A pull-on-demand reader of one stream in sequence order: it asks for more only while fewer
 * than `maxBuffered` messages are buffered or requested, so a slow taker bounds memory and the
 * server keeps the backlog. Nothing is acknowledged; the caller keeps its own position.
 */
export interface OrderedReader {
  /** Buffered messages not yet taken. */
  readonly size: number;
  /** Last stream sequence received (startSeq - 1 before the first). */
  readonly position: number;
  /** Removes and returns up to `max` buffered messages, in stream order. */
  take(max: number): OrderedMessage[];
  /** Stops reading and releases server-side resources; idempotent. */
  close(): Promise<void>;
}

/** One message for an {@link AckPublisher}. */
export interface AckPublishMessage {
  subject: string;
  data: Uint8Array;
  /** `Nats-Msg-Id`; every re-send carries the same id, so the stream stores the message once. */
  msgId: string;
  headers?: Readonly<Record<string, string>> | undefined;
}

/**
 * Many messages behind one object, each at a numbered place (an offset into a buffer, say), read
 * only when sent: a publisher can hold thousands in flight without an object each.
 */
export interface AckMessageSource {
  /**
   * The message at `at`. It may be a cursor shared by the source's messages: valid until the next
   * `messageAt` call, so the publisher reads it at once and keeps only `at`.
   */
  messageAt(at: number): AckPublishMessage;
}

/** Options for {@link Transport.ackPublisher}; `T` is the caller's token for each message. */
export interface AckPublisherConfig<T> {
  /** Messages sent and not yet acknowledged, at most; the rest wait in order. Default 4096. */
  maxInFlight?: number | undefined;
  /** Re-send (same id) a message whose ack has not come after this, ms. Default 5000. */
  ackTimeoutMs?: number | undefined;
  /** Clock and timers for ack timeouts and retry backoff. Default `asyncScheduler`. */
  scheduler?: SchedulerLike | undefined;
  /** The stream stored the message (`duplicate`: it already held the id). Once per message. */
  onAck: (token: T, ack: { duplicate: boolean }) => void;
  /** Called just before a message is sent the first time (not for re-sends). */
  beforeSend?: ((token: T) => void) | undefined;
  /**
   * The server refused the message (no stream captures it, a limit); it is re-sent after `retryInMs`.
   * `message` may be a source's shared cursor ({@link AckMessageSource}): read it during the call.
   */
  onRejected?: ((token: T, info: { message: AckPublishMessage; error: string; attempts: number; retryInMs: number }) => void) | undefined;
  /** Messages re-sent under their ids: acks overdue, after a reconnect, or after a rejection. */
  onResent?: ((info: { count: number; reason: 'timeout' | 'reconnect' | 'rejected' }) => void) | undefined;
  /** A callback above threw: the publisher has closed itself and sends nothing more. */
  onFailure: (err: Error) => void;
}

/**
 * A change of the broker connection. While disconnected, core subscriptions receive nothing
 * (what was published meanwhile is gone for them) and publishes wait in the client's buffer;
 * JetStream consumers resume where they were.
 */
export type ConnectionEvent =
  | { readonly type: 'disconnected'; readonly server: string; readonly atMs: number }
  | {
      readonly type: 'reconnected';
      readonly server: string;
      readonly atMs: number;
      /** When the connection was lost (the first disconnect of this outage). */
      readonly disconnectedAtMs: number;
      readonly downMs: number;
    };

/**
 * Publishes many messages to streams with message ids and a window of unacknowledged sends,
 * without a Promise per message. Sends go out in `publish` order. A message whose ack is late,
 * that the server refused, or that was in flight during a disconnect is re-sent under the same
 * id, which is safe inside the stream's duplicate window; while disconnected nothing new is
 * sent, so after a reconnect the re-sends go out before anything newer.
 */
export interface AckPublisher<T> {
  /** Queues a message and sends what the window allows, synchronously; `token` comes back in callbacks. */
  publish(message: AckPublishMessage, token: T): void;
  /** As {@link publish}, for the message at `at` of `source`, read when it is sent (and re-sent). */
  publishAt(source: AckMessageSource, at: number, token: T): void;
  /** Messages queued or in flight (not yet acknowledged). */
  readonly pending: number;
  /** Messages sent and not yet acknowledged. */
  readonly inFlight: number;
  /** Stops sending and listening; unacknowledged messages are dropped (the caller still has them). */
  close(): void;
}

/**
 * How Sluice talks to the world. `NatsTransport` is the real broker (core NATS + JetStream);
 * `LocalTransport` is the in-process fallback with the same subject semantics and an in-memory
 * stream log (durability off). One contract test suite runs against both.
 *
 * Payloads are bytes at this level; codecs live above (see `decodeEnvelope`).
 */
export interface Transport {
  /** 'nats' or 'local', for logs. */
  readonly kind: 'nats' | 'local';
  /** Whether streams survive this process (false for the in-process transport). */
  readonly durable: boolean;

  /** Core publish: at-most-once, returns once buffered. */
  publish(subject: string, data: Uint8Array, options?: PublishOptions): void;
  /**
   * Subscribes to a subject or wildcard pattern (`*` one token, `>` the rest). Each subscriber
   * of the Observable gets its own NATS subscription; unsubscribing removes it.
   */
  subscribe(subject: string, options?: SubscribeOptions): Observable<Envelope<Uint8Array>>;
  /**
   * Sends a request and resolves with the first reply.
   * @throws RequestTimeoutError, NoRespondersError
   */
  request(subject: string, data: Uint8Array, options: RequestOptions): Promise<Envelope<Uint8Array>>;
  /** Resolves when everything published so far has reached the server. */
  flush(): Promise<void>;

  /** Creates the stream, or adds missing subjects to an existing one. */
  ensureStream(config: StreamConfig): Promise<void>;
  /** Publishes to a stream and waits for its ack. */
  publishDurable(subject: string, data: Uint8Array, options?: DurablePublishOptions): Promise<PubAck>;
  /** Consumes a stream from a position; see {@link ConsumeOptions}. */
  consume(options: ConsumeOptions): Observable<StreamMessage>;
  /** Counts and first/last sequence of a stream. */
  streamState(stream: string): Promise<StreamState>;
  /**
   * Where durable consumer `durableName` of `stream` stands; undefined when it does not exist
   * (yet). Read on demand (stats), never on a message path.
   */
  consumerState(stream: string, durableName: string): Promise<ConsumerState | undefined>;
  /** The stream that captures `subject` (its subjects, duplicate window, state); undefined when none does. */
  findStream(subject: string): Promise<StreamInfo | undefined>;
  /**
   * Which of `ids` the stream holds as `Nats-Msg-Id`, looking at the messages stored since
   * `sinceMs` (epoch ms; the stream's clock) up to its last message now. Reads headers only.
   */
  findMsgIds(stream: string, ids: ReadonlySet<string>, options: { sinceMs: number }): Promise<Set<string>>;
  /**
   * Reads a stream in order from `startSeq`, pulling only what the buffer has room for; see
   * {@link OrderedReader}. Resolves once reading has started.
   * @throws TransportError when the stream does not exist.
   */
  readOrdered(options: OrderedReadOptions): Promise<OrderedReader>;
  /** A windowed publisher with message ids and per-message ack callbacks; see {@link AckPublisher}. */
  ackPublisher<T>(config: AckPublisherConfig<T>): AckPublisher<T>;

  /** The largest payload the server accepts, bytes (Infinity before a NATS connection knows it). */
  readonly maxPayloadBytes: number;
  /**
   * Resolves when the transport is closed for good — by `close()`, or because the connection was
   * lost and will not come back — with the error that closed it, if any.
   */
  closed(): Promise<Error | undefined>;
  /**
   * Losses and recoveries of the broker connection, as they happen (absent on a transport that
   * cannot lose one, like the in-process one). Completes when the transport closes.
   */
  connectionEvents?(): Observable<ConnectionEvent>;

  /** Drains subscriptions and closes; idempotent. */
  close(): Promise<void>;
}
