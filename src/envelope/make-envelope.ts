import { HEADERS, type Envelope } from './envelope.js';
import { uniqueId } from './unique-id.js';

/** Fields for {@link makeEnvelope}; only `subject` and `data` are required. */
export interface EnvelopeInit<T> {
  subject: string;
  data: T;
  headers?: Readonly<Record<string, string>> | undefined;
  id?: string | undefined;
  key?: string | undefined;
  /** Epoch ms; defaults to the `Sluice-Event-Time` header, else `now`. */
  eventTime?: number | undefined;
  stream?: string | undefined;
  seq?: number | undefined;
  reply?: string | undefined;
  raw?: Uint8Array | undefined;
  /** Clock for the default event time, epoch ms. Defaults to `Date.now`. */
  now?: (() => number) | undefined;
}

/**
 * Builds an envelope, filling the id and event time from headers or position the way the
 * transports do, so envelopes made in tests look like ones that came off the wire.
 */
export function makeEnvelope<T>(init: EnvelopeInit<T>): Envelope<T> {
  const headers = init.headers ?? {};
  const id = init.id ?? headers[HEADERS.msgId] ?? (init.stream !== undefined && init.seq !== undefined ? `${init.stream}:${init.seq}` : uniqueId());
  const headerTime = headers[HEADERS.eventTime];
  const parsed = headerTime !== undefined ? Number(headerTime) : NaN;
  const eventTime = init.eventTime ?? (Number.isFinite(parsed) ? parsed : (init.now ?? Date.now)());
  return {
    subject: init.subject,
    data: init.data,
    headers,
    id,
    key: init.key ?? headers[HEADERS.key],
    eventTime,
    stream: init.stream,
    seq: init.seq,
    reply: init.reply,
    raw: init.raw,
  };
}
