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
  ) {
    const headers = fromNatsHeaders(msg.headers);
    this.subject = msg.subject;
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
