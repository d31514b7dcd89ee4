import { msgpackCodec } from '../codec/msgpack-codec.js';
import { HEADERS } from '../envelope/envelope.js';
import type { DeadLetterRecord } from './dead-letter-record.js';

/**
 * Headers on a dead-letter message, copied from its record so tools can filter and alert
 * without decoding the payload. The payload is the msgpack {@link DeadLetterRecord}.
 */
export const DEAD_LETTER_HEADERS = {
  subject: 'Sluice-Dlq-Subject',
  stream: 'Sluice-Dlq-Stream',
  seq: 'Sluice-Dlq-Seq',
  error: 'Sluice-Dlq-Error',
  reason: 'Sluice-Dlq-Reason',
  /** `true` when the record's payload is only the first part of the original. */
  truncated: 'Sluice-Dlq-Truncated',
  /** The replay attempt that failed, on parked records. */
  replayAttempt: 'Sluice-Dlq-Replay-Attempt',
} as const;

/** Options for {@link encodeDeadLetter}. */
export interface EncodeDeadLetterOptions {
  /**
   * The largest message the connection may publish (`transport.maxPayloadBytes`): headers plus
   * payload stay below it, less room for the headers a JetStream publish adds. Default: no limit.
   */
  maxBytes?: number | undefined;
}

// NATS header values are one line; a long message would also bloat every record's headers.
const MAX_REASON_CHARS = 500;
// Left free for headers added after encoding (Nats-Msg-Id of an outbox or replay, tracing).
const RESERVED_BYTES = 512;
// An error message stays readable well below this; beyond it, it is usually the payload again.
const MAX_MESSAGE_CHARS = 4096;

/**
 * The bytes and headers to publish for a record (standard MessagePack, any language reads it).
 * When the whole record would not fit `maxBytes`, the payload is cut to what fits and the record
 * says so (`payloadTruncated`, `payloadBytes`; the original stays at `stream`/`seq`), and then,
 * if still needed, the error message and the original headers are shortened: the record is
 * always publishable, so a dead letter is never lost (or a topology stopped) for its size.
 */
export function encodeDeadLetter(
  record: DeadLetterRecord,
  options: EncodeDeadLetterOptions = {},
): { payload: Uint8Array; headers: Record<string, string>; record: DeadLetterRecord } {
  const maxBytes = options.maxBytes ?? Infinity;
  let fitted = record;
  let encoded = encodeOnce(fitted);
  if (size(encoded) + RESERVED_BYTES > maxBytes) {
    const full = record.payload;
    let shrunk: DeadLetterRecord = {
      ...record,
      error: { name: record.error.name.slice(0, 200), message: record.error.message.slice(0, MAX_MESSAGE_CHARS) },
      payload: new Uint8Array(0),
      payloadTruncated: true,
      payloadBytes: full.length,
    };
    let overhead = size(encodeOnce(shrunk)) + RESERVED_BYTES + 5; // 5: a bin32 length prefix
    if (overhead > maxBytes) {
      // Huge original headers: keep the content type only, so the payload stays decodable, and the
      // trace context, so the dead letter still joins its trace.
      const kept: Record<string, string> = {};
      for (const name of [HEADERS.contentType, HEADERS.traceparent, HEADERS.tracestate]) {
        const value = record.headers[name];
        if (value !== undefined && value.length <= 512) kept[name] = value;
      }
      shrunk = { ...shrunk, headers: kept, error: { ...shrunk.error, message: shrunk.error.message.slice(0, 200) } };
      overhead = size(encodeOnce(shrunk)) + RESERVED_BYTES + 5;
    }
    const keep = Math.max(0, Math.min(full.length, maxBytes - overhead));
    fitted = { ...shrunk, payload: full.subarray(0, keep) };
    encoded = encodeOnce(fitted);
  }
  return { ...encoded, record: fitted };
}

function encodeOnce(record: DeadLetterRecord): { payload: Uint8Array; headers: Record<string, string> } {
  const headers: Record<string, string> = {
    [HEADERS.contentType]: msgpackCodec.contentType,
    [DEAD_LETTER_HEADERS.subject]: record.subject,
    [DEAD_LETTER_HEADERS.error]: oneLine(record.error.name).slice(0, 200),
    [DEAD_LETTER_HEADERS.reason]: oneLine(record.error.message).slice(0, MAX_REASON_CHARS),
  };
  if (record.stream !== undefined) headers[DEAD_LETTER_HEADERS.stream] = record.stream;
  if (record.seq !== undefined) headers[DEAD_LETTER_HEADERS.seq] = String(record.seq);
  if (record.payloadTruncated === true) headers[DEAD_LETTER_HEADERS.truncated] = 'true';
  if (record.replayAttempt !== undefined) headers[DEAD_LETTER_HEADERS.replayAttempt] = String(record.replayAttempt);
  // The failed input's trace context, so a tracing backend shows the dead letter in its trace.
  const traceparent = record.headers[HEADERS.traceparent];
  if (traceparent !== undefined && traceparent.length <= 128) headers[HEADERS.traceparent] = traceparent;
  const tracestate = record.headers[HEADERS.tracestate];
  if (tracestate !== undefined && tracestate.length <= 512) headers[HEADERS.tracestate] = tracestate;
  return { payload: msgpackCodec.encode(record), headers };
}

/** Bytes of a message as NATS counts them against max_payload: payload plus the header block. */
function size({ payload, headers }: { payload: Uint8Array; headers: Record<string, string> }): number {
  let bytes = payload.length + 12; // "NATS/1.0\r\n" + the closing "\r\n"
  for (const [k, v] of Object.entries(headers)) bytes += Buffer.byteLength(k) + Buffer.byteLength(v) + 4; // ": " + "\r\n"
  return bytes;
}

/**
 * Reads a dead-letter payload back into its record (for listing and replay).
 * @throws Error when the bytes are not a dead-letter record.
 */
export function decodeDeadLetter(payload: Uint8Array): DeadLetterRecord {
  const record = msgpackCodec.decode(payload) as Partial<DeadLetterRecord> | null;
  if (typeof record !== 'object' || record === null || record.v !== 1 || typeof record.subject !== 'string') {
    throw new Error('not a Sluice dead-letter record (v1)');
  }
  return { ...record, payload: new Uint8Array(record.payload ?? []) } as DeadLetterRecord;
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').trim() || '(no message)';
}
