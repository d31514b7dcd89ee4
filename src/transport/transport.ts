import type { Observable } from 'rxjs';
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

  /** Drains subscriptions and closes; idempotent. */
  close(): Promise<void>;
}
