import type { JsMsg } from '@nats-io/jetstream';
import { HEADERS } from '../../envelope/envelope.js';
import { fromNatsHeaders } from './nats-headers.js';
import { parseAckSubject, type AckSubjectInfo } from './parse-ack-subject.js';
import type { StreamMessage } from '../transport.js';

/**
 * A message of a JetStream consumer as a {@link StreamMessage}: the envelope fields as
 * `makeEnvelope` fills them (id from `Nats-Msg-Id`, else `<stream>:<seq>`; event time from
 * `Sluice-Event-Time`, else the time received), and the ack methods on the prototype rather than
 * four closures per message (this is the hot path of every stream source). Ordered consumers
 * pass `acks: false`: their ack methods do nothing.
 */
export class NatsStreamMessage implements StreamMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  readonly id: string;
  readonly key: string | undefined;
  readonly eventTime: number;
  readonly reply: undefined = undefined;
  readonly raw: undefined = undefined;
  readonly #msg: JsMsg;
  readonly #acks: boolean;

  constructor(
    msg: JsMsg,
    readonly stream: string,
    readonly seq: number,
    readonly deliveryCount: number,
    acks: boolean,
    /** The message's subject when the caller has it already (see {@link subjectReader}). */
    subject: string = msg.subject,
  ) {
    const headers = fromNatsHeaders(msg.headers);
    this.subject = subject;
    this.data = msg.data;
    this.headers = headers;
    this.id = headers[HEADERS.msgId] ?? `${stream}:${seq}`;
    this.key = headers[HEADERS.key];
    const headerTime = headers[HEADERS.eventTime];
    const parsed = headerTime !== undefined ? Number(headerTime) : NaN;
    this.eventTime = Number.isFinite(parsed) ? parsed : Date.now();
    this.#msg = msg;
    this.#acks = acks;
  }

  ack(): void {
    if (this.#acks) this.#msg.ack();
  }

  nak(delayMs?: number): void {
    if (this.#acks) this.#msg.nak(delayMs);
  }

  term(): void {
    if (this.#acks) this.#msg.term();
  }

  working(): void {
    if (this.#acks) this.#msg.working();
  }
}

/**
 * Where a message stands, read from its ack subject: `JsMsg.info` (and `seq`, which uses it)
 * splits the subject into strings and parses every field, as costly as decoding a small payload
 * (bench mode stream-route-sink). `reply` is not in `JsMsg`'s type but the v3 client's messages
 * have it; without it, or for a subject `parseAckSubject` does not know, `info` decides.
 */
export function deliveryOf(msg: JsMsg): AckSubjectInfo {
  const reply = (msg as { reply?: unknown }).reply;
  return (typeof reply === 'string' ? parseAckSubject(reply) : undefined) ?? msg.info;
}

/**
 * A reader of JetStream messages' subjects that decodes a subject only when it differs from the
 * previous message's: `JsMsg.subject` runs a `TextDecoder` per message, which the raw loop never
 * pays (bench mode stream-route-sink), while a consumer mostly sees one subject, or a few. It
 * compares the wire bytes the v3 client keeps on its message (`msg._msg.subject`); a client
 * without them gets `JsMsg.subject`. One reader per consumer: it keeps the last subject.
 */
export function subjectReader(): (msg: JsMsg) => string {
  let lastBytes: Uint8Array | undefined;
  let lastSubject = '';
  return (msg) => {
    const bytes = (msg as { msg?: { _msg?: { subject?: unknown } } }).msg?._msg?.subject;
    if (!(bytes instanceof Uint8Array)) return msg.subject;
    if (lastBytes !== undefined && sameBytes(bytes, lastBytes)) return lastSubject;
    lastSubject = msg.subject;
    // A copy: the client may reuse the buffer the subject was parsed from.
    lastBytes = bytes.slice();
    return lastSubject;
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  // From the end: subjects of one consumer share their prefix and differ, if at all, last.
  for (let i = a.length - 1; i >= 0; i--) if (a[i] !== b[i]) return false;
  return true;
}
