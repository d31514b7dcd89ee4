import type { Msg } from '@nats-io/nats-core';
import type { Envelope } from '../../envelope/envelope.js';
import { makeEnvelope } from '../../envelope/make-envelope.js';
import { uniqueId } from '../../envelope/unique-id.js';
import { fromNatsHeaders } from './nats-headers.js';

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * A core message as an envelope. A message without headers (the common case) skips
 * `makeEnvelope`: nothing to look up, the id and event time are made directly. `subject` is the
 * subscription's own when it has no wildcards (decoding it from the wire costs as much).
 */
export function natsCoreEnvelope(msg: Msg, subject?: string): Envelope<Uint8Array> {
  const headers = msg.headers;
  if (headers === undefined) {
    // The field order of makeEnvelope's result, so both have one shape.
    return {
      subject: subject ?? msg.subject,
      data: msg.data,
      headers: NO_HEADERS,
      id: uniqueId(),
      key: undefined,
      eventTime: Date.now(),
      stream: undefined,
      seq: undefined,
      reply: replyOf(msg),
      raw: undefined,
    };
  }
  return makeEnvelope({ subject: subject ?? msg.subject, data: msg.data, headers: fromNatsHeaders(headers), reply: replyOf(msg) });
}

/**
 * The v3 client's message decodes its reply subject on every read when there is none (it keeps
 * only a non-empty one), about a tenth of forwarding a message; its wire form says so for free.
 * Falls back on `reply` for any other message shape.
 */
function replyOf(msg: Msg): string | undefined {
  const wire = (msg as { _msg?: { reply?: Uint8Array | undefined } })._msg;
  if (wire !== undefined && (wire.reply === undefined || wire.reply.length === 0)) return undefined;
  const reply = msg.reply;
  return reply !== undefined && reply !== '' ? reply : undefined;
}
