import { HEADERS, type Envelope } from '../envelope/envelope.js';
import type { BatchRecord } from './durable-batch-types.js';

/**
 * A value a durable batch holds, as the envelope it arrived in: its original bytes (`raw`),
 * subject, headers and stream position, and its id (`Nats-Msg-Id`, else `<stream>:<seq>`). What
 * the batch dead-letters a value it gave up on with (a flush that throws for it; a period batch's
 * `keyOf`, `periodOf`, `closeOf` or `tally` that throws).
 */
export function batchRecordEnvelope(r: BatchRecord): Envelope<Uint8Array> {
  return {
    subject: r.subject,
    data: r.data,
    raw: r.data,
    headers: r.headers,
    id: r.headers[HEADERS.msgId] ?? `${r.stream}:${r.seq}`,
    eventTime: r.timestampMs,
    stream: r.stream,
    seq: r.seq,
  };
}
