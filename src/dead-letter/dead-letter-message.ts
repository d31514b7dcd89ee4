import type { Envelope } from '../envelope/envelope.js';
import { toDeadLetter, type DeadLetterContext, type DeadLetterRecord } from './dead-letter-record.js';
import { encodeDeadLetter } from './encode-dead-letter.js';

/** Where, when and how a message failed, and how large its dead letter may be, for {@link deadLetterMessage}. */
export interface DeadLetterMessageContext extends DeadLetterContext {
  /** Tries made (1 = not retried). Default 1. */
  attempts?: number | undefined;
  /** The connection's max_payload (`transport.maxPayloadBytes`): the record is cut to fit. Default: no limit. */
  maxBytes?: number | undefined;
}

/**
 * The message to publish for `envelope` failing with `error`: its {@link DeadLetterRecord}
 * ({@link toDeadLetter}) encoded with its `Sluice-Dlq-*` headers ({@link encodeDeadLetter}), cut
 * to fit `maxBytes`. The one path from a failure to dead-letter bytes for the engines (actors,
 * durable batches and windows), which emit it in their outbox so it is published exactly once.
 * Never throws.
 */
export function deadLetterMessage(
  envelope: Envelope<unknown>,
  error: unknown,
  context: DeadLetterMessageContext,
): { payload: Uint8Array; headers: Record<string, string>; record: DeadLetterRecord } {
  const record = toDeadLetter(envelope, error, context.attempts ?? 1, context);
  return encodeDeadLetter(record, { maxBytes: context.maxBytes });
}
