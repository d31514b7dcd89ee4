/**
 * The unit every Sluice operator passes along. Routing, batching and acking never lose where a
 * message came from: the subject, the JetStream position (`stream`, `seq`) and, for input that
 * arrived as bytes, the original payload (`raw`) travel with the data.
 */
export interface Envelope<T = unknown> {
  /** The subject the message was published on (or will be published to, for outputs). */
  readonly subject: string;
  /** The decoded payload (or the bytes, on the transport level). */
  readonly data: T;
  /** NATS headers, one value per name (the first, when the wire had several). */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * Stable message id: the `Nats-Msg-Id` header when present, else `<stream>:<seq>` for
   * JetStream input, else a fresh unique id.
   */
  readonly id: string;
  /** Actor/partition key, when an operator has assigned one. */
  readonly key?: string | undefined;
  /** Event time in epoch milliseconds: the `Sluice-Event-Time` header, else the time received. */
  readonly eventTime: number;
  /** JetStream stream name, for messages consumed from a stream. */
  readonly stream?: string | undefined;
  /** JetStream stream sequence, for messages consumed from a stream. */
  readonly seq?: number | undefined;
  /** Reply subject, for requests. */
  readonly reply?: string | undefined;
  /** The original bytes, kept so a dead letter can carry exactly what arrived. */
  readonly raw?: Uint8Array | undefined;
}

/** Header names Sluice reads and writes. Other services may rely on these. */
export const HEADERS = {
  contentType: 'Content-Type',
  msgId: 'Nats-Msg-Id',
  eventTime: 'Sluice-Event-Time',
  key: 'Sluice-Key',
  /**
   * The subject a message first arrived on, when Sluice forwarded it to an internal subject (an
   * input a topology hands to its actor goes to the actor's `.tell` subject).
   */
  originSubject: 'Sluice-Origin-Subject',
  /** W3C trace context, carried from each input to the outputs and dead letters it causes (docs/runtime.md, Tracing). */
  traceparent: 'traceparent',
  tracestate: 'tracestate',
} as const;
