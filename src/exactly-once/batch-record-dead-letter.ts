import { toDeadLetter } from '../dead-letter/dead-letter-record.js';
import { encodeDeadLetter } from '../dead-letter/encode-dead-letter.js';
import { HEADERS } from '../envelope/envelope.js';
import type { BatchRecord } from './durable-batch-types.js';

/**
 * The dead-letter record (payload + `Sluice-Dlq-*` headers) of a value a durable batch gave up on:
 * its original bytes, subject and stream position, the error and who failed (`operator`), cut to
 * fit `maxBytes`. Used by the flush (a value whose flush throws) and by period batches (a value or
 * close whose `keyOf`, `periodOf`, `closeOf` or `tally` throws).
 */
export function batchRecordDeadLetter(r: BatchRecord, err: unknown, operator: string, failedAt: number, maxBytes: number | undefined): { payload: Uint8Array; headers: Record<string, string>; message: string } {
  const record = toDeadLetter(
    { subject: r.subject, data: r.data, raw: r.data, headers: r.headers, id: r.headers[HEADERS.msgId] ?? `${r.stream}:${r.seq}`, eventTime: r.timestampMs, stream: r.stream, seq: r.seq },
    err, 1, { operator, failedAt },
  );
  const { payload, headers } = encodeDeadLetter(record, { maxBytes });
  return { payload, headers, message: record.error.message };
}
