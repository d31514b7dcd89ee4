import { firstValueFrom, take, timeout, toArray } from 'rxjs';
import { InvalidConfigError } from '../errors.js';
import type { Transport } from '../transport/transport.js';
import { decodeDeadLetter, deadLetterStreamName } from './dead-letter.js';

/** Options for {@link replayDeadLetters}. */
export interface ReplayDeadLettersOptions {
  /** First dead-letter stream sequence to replay. Default: the stream's first. */
  fromSeq?: number | undefined;
  /** Records replayed at most. Default 1000. */
  limit?: number | undefined;
  /** Only records whose original subject is this (exact). Default: all. */
  subject?: string | undefined;
}

/** What a replay did; continue from `nextSeq` to replay the rest. */
export interface ReplayResult {
  readonly replayed: number;
  readonly skipped: number;
  readonly nextSeq: number;
}

/**
 * Re-publishes dead letters of a topology after a fix: each record's original bytes with its
 * original headers on its original subject (a core publish, so a stream that captures the
 * subject stores it again). Records stay in the dead-letter stream; keep `nextSeq` to avoid
 * replaying twice. Reads at most `limit` records, never past the last one present at the call.
 *
 * @throws InvalidConfigError for a bad `fromSeq`/`limit`; TransportError when the stream is missing.
 */
export async function replayDeadLetters(transport: Transport, topology: string, options: ReplayDeadLettersOptions = {}): Promise<ReplayResult> {
  const limit = options.limit ?? 1000;
  if (!Number.isInteger(limit) || limit < 1) throw new InvalidConfigError('replayDeadLetters', 'limit', `must be an integer >= 1, got ${limit}`);
  if (options.fromSeq !== undefined && (!Number.isInteger(options.fromSeq) || options.fromSeq < 1)) {
    throw new InvalidConfigError('replayDeadLetters', 'fromSeq', `must be an integer >= 1, got ${options.fromSeq}`);
  }
  const stream = deadLetterStreamName(topology);
  const state = await transport.streamState(stream);
  const from = Math.max(options.fromSeq ?? state.firstSeq, state.firstSeq, 1);
  if (state.messages === 0 || from > state.lastSeq) return { replayed: 0, skipped: 0, nextSeq: Math.max(from, state.lastSeq + 1) };
  const count = Math.min(limit, state.lastSeq - from + 1);
  const messages = await firstValueFrom(
    transport.consume({ stream, startSeq: from, maxInFlight: Math.min(count, 1000) }).pipe(take(count), timeout(10_000), toArray()),
  );
  let replayed = 0;
  let skipped = 0;
  for (const m of messages) {
    const record = decodeDeadLetter(m.data);
    if (options.subject !== undefined && record.subject !== options.subject) {
      skipped += 1;
      continue;
    }
    transport.publish(record.subject, record.payload, { headers: record.headers });
    replayed += 1;
  }
  await transport.flush();
  return { replayed, skipped, nextSeq: (messages.at(-1)?.seq ?? from - 1) + 1 };
}
