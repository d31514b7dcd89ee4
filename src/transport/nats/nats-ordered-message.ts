import type { MsgHdrs } from '@nats-io/nats-core';
import { HEADERS } from '../../envelope/envelope.js';
import type { OrderedMessage } from '../transport.js';

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * A message of {@link NatsOrderedReader} as an {@link OrderedMessage}, built from the raw client
 * message without a `JsMsg`. Headers, id and event time are derived on first read (most readers
 * never look at them). The event time defaults to the stream's timestamp, not the receive time, so
 * reading the same position again sees the same value. Ack methods are no-ops: the reader's caller
 * keeps the position.
 */
export class NatsOrderedMessage implements OrderedMessage {
  private cachedHeaders: Readonly<Record<string, string>> | undefined;

  constructor(
    readonly subject: string,
    readonly data: Uint8Array,
    private readonly natsHeaders: MsgHdrs | undefined,
    readonly stream: string,
    readonly seq: number,
    /** Stream timestamp, epoch ms. */
    readonly timestampMs: number,
  ) {}

  get headers(): Readonly<Record<string, string>> {
    if (this.cachedHeaders === undefined) {
      const h = this.natsHeaders;
      if (h === undefined) {
        this.cachedHeaders = NO_HEADERS;
      } else {
        const out: Record<string, string> = {};
        for (const [k, v] of h) if (v[0] !== undefined) out[k] = v[0];
        this.cachedHeaders = out;
      }
    }
    return this.cachedHeaders;
  }

  get id(): string {
    return this.headers[HEADERS.msgId] ?? `${this.stream}:${this.seq}`;
  }

  get key(): string | undefined {
    return this.headers[HEADERS.key];
  }

  get eventTime(): number {
    const h = this.headers[HEADERS.eventTime];
    const parsed = h !== undefined ? Number(h) : NaN;
    return Number.isFinite(parsed) ? parsed : this.timestampMs;
  }

  get raw(): Uint8Array {
    return this.data;
  }

  get reply(): undefined {
    return undefined;
  }

  get deliveryCount(): number {
    return 1;
  }

  ack(): void {}
  nak(): void {}
  term(): void {}
  working(): void {}
}
