import { firstValueFrom, take, timeout } from 'rxjs';
import { REPLAY_HEADERS, type DeadLetterRecord } from '../dead-letter/dead-letter-record.js';
import { deadLetterSubject, REPLAYED_PART } from '../dead-letter/dead-letter-subject.js';
import { encodeReplayMarker, readDeadLetters, type DeadLetterEntry, type DeadLetterFilter, type ReplayMarker } from '../dead-letter/read-dead-letters.js';
import { HEADERS } from '../envelope/envelope.js';
import { ensureError } from '../errors.js';
import type { StreamInfo, Transport } from '../transport/transport.js';

/** Options for {@link replayDeadLetters}: which records (see {@link DeadLetterFilter}) and how many. */
export interface ReplayDeadLettersOptions extends Omit<DeadLetterFilter, 'status'> {
  /** First dead-letter stream sequence to look at. Default: the stream's first. */
  fromSeq?: number | undefined;
  /** Records replayed at most. Default 1000. */
  limit?: number | undefined;
  /** Replay parked records too (messages that already failed again after a replay). Default false. */
  includeParked?: boolean | undefined;
  /** Epoch ms clock for the markers. Default `Date.now`. */
  now?: (() => number) | undefined;
  /** @internal TESTING ONLY: called after a message is re-published and before its marker is written (a crash there). */
  faults?: { afterPublish?: ((seq: number) => void) | undefined } | undefined;
}

/** One replayed record. */
export interface ReplayedRecord {
  /** Its sequence in the dead-letter stream. */
  readonly seq: number;
  readonly subject: string;
  readonly attempt: number;
  /** Where the message went; absent when no stream captures the subject (a core publish). */
  readonly to?: { readonly stream: string; readonly seq: number; readonly duplicate: boolean } | undefined;
}

/** What a replay did; continue from `nextSeq` to replay the rest. */
export interface ReplayResult {
  readonly replayed: number;
  /** Records matching the filters that were not to replay: already replayed, or parked without `includeParked`. */
  readonly skipped: number;
  /** Records that could not be replayed (a truncated record whose original is gone), with why. */
  readonly failed: ReadonlyArray<{ readonly seq: number; readonly reason: string }>;
  readonly records: readonly ReplayedRecord[];
  readonly nextSeq: number;
}

/**
 * Re-publishes dead letters of a topology after a fix: each record's original bytes (read back
 * from the source stream when the record holds only a truncated copy) with its original headers
 * on its original subject, plus `Sluice-Replay-Of: <dead-letter stream>/<seq>` and
 * `Sluice-Replay-Attempt: <n>`.
 *
 * Exactly once: a subject a stream captures gets a JetStream publish with
 * `Nats-Msg-Id: sluice-replay:<dead-letter stream>:<seq>`, and then a replay marker is written
 * to the dead-letter stream (`sluice.dlq.<topology>.$replayed`, id `sluice-replayed:...`); a
 * replay that crashed between the two publishes again under the same id, which the stream
 * drops inside its duplicate window. Marked records are never replayed again. A subject no
 * stream captures gets a core publish (at-most-once, like the source it came from).
 *
 * No loop: a replayed message that fails again is dead-lettered as a *parked* record (with
 * `replayOf` and `replayAttempt`), which a replay skips unless `includeParked`; so "replay all"
 * twice over still-bad records adds nothing the second time.
 *
 * @throws InvalidConfigError for a bad option; TransportError when the stream is missing.
 */
export async function replayDeadLetters(transport: Transport, topology: string, options: ReplayDeadLettersOptions = {}): Promise<ReplayResult> {
  const now = options.now ?? Date.now;
  // Oldest first, and only what is still to do: a second "replay all" goes on where the first stopped.
  const page = await readDeadLetters(transport, topology, {
    ...options,
    fromSeq: options.fromSeq ?? 1,
    limit: options.limit ?? 1000,
    status: options.includeParked === true ? ['dead', 'parked'] : ['dead'],
  });
  const markerSubject = deadLetterSubject(topology, REPLAYED_PART);
  const targets = new Map<string, Promise<StreamInfo | undefined>>();
  const records: ReplayedRecord[] = [];
  const failed: Array<{ seq: number; reason: string }> = [];
  const skipped = page.counts.replayed + (options.includeParked === true ? 0 : page.counts.parked);
  let corePublished = false;
  for (const entry of page.entries) {
    const { record, seq } = entry;
    let payload: Uint8Array;
    try {
      payload = await originalBytes(transport, entry);
    } catch (err) {
      failed.push({ seq, reason: ensureError(err).message });
      continue;
    }
    const attempt = (record.replayAttempt ?? 0) + 1;
    const headers = replayHeaders(record, `${page.stream}/${seq}`, attempt);
    let target = targets.get(record.subject);
    if (target === undefined) targets.set(record.subject, (target = transport.findStream(record.subject)));
    let to: ReplayedRecord['to'];
    if ((await target) !== undefined) {
      const ack = await transport.publishDurable(record.subject, payload, { headers, msgId: `sluice-replay:${page.stream}:${seq}` });
      to = { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate };
    } else {
      transport.publish(record.subject, payload, { headers });
      corePublished = true;
    }
    options.faults?.afterPublish?.(seq);
    const marker: ReplayMarker = { v: 1, replayed: seq, attempt, ...(to !== undefined ? { to } : {}), at: now() };
    await transport.publishDurable(markerSubject, encodeReplayMarker(marker), {
      msgId: `sluice-replayed:${page.stream}:${seq}`,
      headers: { [HEADERS.contentType]: 'application/msgpack', [REPLAY_HEADERS.of]: `${page.stream}/${seq}` },
    });
    records.push({ seq, subject: record.subject, attempt, to });
  }
  if (corePublished) await transport.flush();
  return { replayed: records.length, skipped, failed, records, nextSeq: page.nextSeq };
}

// Headers that would make the stream drop or refuse the replay: the original's own id (a
// duplicate inside the window) and publish expectations that held only for the original.
const DROPPED_HEADERS = new Set(
  [HEADERS.msgId, 'Nats-Expected-Stream', 'Nats-Expected-Last-Sequence', 'Nats-Expected-Last-Subject-Sequence', 'Nats-Expected-Last-Msg-Id'].map((h) =>
    h.toLowerCase(),
  ),
);

function replayHeaders(record: DeadLetterRecord, of: string, attempt: number): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(record.headers))
    if (!DROPPED_HEADERS.has(k.toLowerCase()) && k !== REPLAY_HEADERS.of && k !== REPLAY_HEADERS.attempt) headers[k] = v;
  headers[REPLAY_HEADERS.of] = of;
  headers[REPLAY_HEADERS.attempt] = String(attempt);
  return headers;
}

/** The record's payload, or for a truncated one the original from the source stream. */
async function originalBytes(transport: Transport, { record }: DeadLetterEntry): Promise<Uint8Array> {
  if (record.payloadTruncated !== true) return record.payload;
  if (record.stream === undefined || record.seq === undefined) {
    throw new Error(
      `payload truncated to ${record.payload.length} of ${record.payloadBytes ?? '?'} bytes and the message came from no stream: nothing to replay`,
    );
  }
  const { stream, seq } = record;
  const m = await firstValueFrom(transport.consume({ stream, startSeq: seq, maxInFlight: 1 }).pipe(take(1), timeout(5_000))).catch((err: unknown) => {
    throw new Error(`payload truncated; reading the original (stream ${stream}, seq ${seq}) failed: ${ensureError(err).message}`);
  });
  if (m.seq !== seq) throw new Error(`payload truncated and the original (stream ${stream}, seq ${seq}) is no longer in the stream`);
  return m.data;
}
