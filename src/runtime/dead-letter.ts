import type { DeadLetterRecord } from '../dead-letter/dead-letter-record.js';
import { msgpackCodec } from '../codec/msgpack-codec.js';
import { HEADERS } from '../envelope/envelope.js';

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
} as const;

/** `sluice.dlq.<topology>`. */
export function deadLetterSubject(topology: string): string {
  return `sluice.dlq.${topology}`;
}

/** `SLUICE_DLQ_<topology>`: the stream that keeps a topology's dead letters for replay. */
export function deadLetterStreamName(topology: string): string {
  return `SLUICE_DLQ_${topology}`;
}

// NATS header values are one line; a long message would also bloat every record's headers.
const MAX_REASON_CHARS = 500;

/** The bytes and headers to publish for a record (standard MessagePack, any language reads it). */
export function encodeDeadLetter(record: DeadLetterRecord): { payload: Uint8Array; headers: Record<string, string> } {
  const headers: Record<string, string> = {
    [HEADERS.contentType]: msgpackCodec.contentType,
    [DEAD_LETTER_HEADERS.subject]: record.subject,
    [DEAD_LETTER_HEADERS.error]: oneLine(record.error.name),
    [DEAD_LETTER_HEADERS.reason]: oneLine(record.error.message).slice(0, MAX_REASON_CHARS),
  };
  if (record.stream !== undefined) headers[DEAD_LETTER_HEADERS.stream] = record.stream;
  if (record.seq !== undefined) headers[DEAD_LETTER_HEADERS.seq] = String(record.seq);
  return { payload: msgpackCodec.encode(record), headers };
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
