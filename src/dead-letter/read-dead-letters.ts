import { firstValueFrom, reduce, takeWhile, timeout } from 'rxjs';
import { msgpackCodec } from '../codec/msgpack-codec.js';
import { InvalidConfigError } from '../errors.js';
import { subjectMatches } from '../transport/subject.js';
import type { StreamState, Transport } from '../transport/transport.js';
import type { DeadLetterRecord } from './dead-letter-record.js';
import { deadLetterStreamName, deadLetterSubject, REPLAYED_PART } from './dead-letter-subject.js';
import { decodeDeadLetter } from './encode-dead-letter.js';

/**
 * Where a record stands: `dead` (never replayed), `parked` (it came from a replay that failed
 * again; a plain replay skips it), `replayed` (a replay marker names it).
 */
export type DeadLetterStatus = 'dead' | 'parked' | 'replayed';

/**
 * What a replay leaves in the dead-letter stream, on `sluice.dlq.<topology>.$replayed`
 * (msgpack): the record's sequence, the attempt, and where the message went (absent for a
 * subject no stream captures: then it was a core publish).
 */
export interface ReplayMarker {
  readonly v: 1;
  readonly replayed: number;
  readonly attempt: number;
  readonly to?: { readonly stream: string; readonly seq: number; readonly duplicate: boolean };
  readonly at: number;
}

/** One record of the dead-letter stream with its position and status. */
export interface DeadLetterEntry {
  /** Sequence in `SLUICE_DLQ_<topology>`. */
  readonly seq: number;
  readonly record: DeadLetterRecord;
  readonly status: DeadLetterStatus;
  /** The replay marker, when `status` is `replayed`. */
  readonly replay?: ReplayMarker | undefined;
}

/** Which records to read; every field narrows (all must match). */
export interface DeadLetterFilter {
  /** The original subject, a NATS pattern (`shop.orders.>`). */
  subject?: string | undefined;
  /** Case-insensitive text in `<error name>: <error message>`. */
  reason?: string | undefined;
  /** `failedAt` at or after, epoch ms. */
  sinceMs?: number | undefined;
  /** `failedAt` before, epoch ms. */
  untilMs?: number | undefined;
  /** Only these statuses. Default all. */
  status?: readonly DeadLetterStatus[] | undefined;
  /** Only this dead-letter sequence. */
  seq?: number | undefined;
}

/** Options for {@link readDeadLetters}. */
export interface ReadDeadLettersOptions extends DeadLetterFilter {
  /** Start at this dead-letter sequence and return the first matches; without it, the last `limit` matches. */
  fromSeq?: number | undefined;
  /** Entries returned at most. Default 100. */
  limit?: number | undefined;
}

/** What {@link readDeadLetters} found. */
export interface DeadLetterPage extends StreamState {
  readonly stream: string;
  /** Matching entries in sequence order. */
  readonly entries: DeadLetterEntry[];
  /** Records that matched in the range read (may exceed `entries.length`). */
  readonly matched: number;
  /** Where to continue: after the last entry kept when `limit` cut the read, else after the stream's last message. */
  readonly nextSeq: number;
}

/**
 * Reads a topology's dead-letter stream: the records that match `options`, each with its status
 * (replay markers are read to the end of the stream, since they follow their records). Reads
 * only what is present at the call; holds at most `limit` entries.
 *
 * @throws InvalidConfigError for a bad limit or sequence; TransportError when the stream is missing.
 */
export async function readDeadLetters(transport: Transport, topology: string, options: ReadDeadLettersOptions = {}): Promise<DeadLetterPage> {
  const limit = options.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1) throw new InvalidConfigError('readDeadLetters', 'limit', `must be an integer >= 1, got ${limit}`);
  for (const field of ['fromSeq', 'seq'] as const) {
    const v = options[field];
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new InvalidConfigError('readDeadLetters', field, `must be an integer >= 1, got ${v}`);
  }
  const stream = deadLetterStreamName(topology);
  const markerSubject = deadLetterSubject(topology, REPLAYED_PART);
  const state = await transport.streamState(stream);
  const from = Math.max(options.fromSeq ?? options.seq ?? state.firstSeq, state.firstSeq, 1);
  const empty = { stream, ...state, entries: [], matched: 0, nextSeq: Math.max(from, state.lastSeq + 1) };
  if (state.messages === 0 || from > state.lastSeq) return empty;
  const count = state.lastSeq - from + 1;
  const newest = options.fromSeq === undefined && options.seq === undefined;
  const kept: Array<{ seq: number; record: DeadLetterRecord }> = [];
  const markers = new Map<number, ReplayMarker>();
  let matched = 0;
  await firstValueFrom(
    transport.consume({ stream, startSeq: from, maxInFlight: Math.min(count, 1000) }).pipe(
      // Up to the last message (limits drop only the oldest, so it stays), not a count: records
      // dropped meanwhile would leave a count waiting for messages that never come.
      takeWhile((m) => m.seq < state.lastSeq, true),
      timeout({ each: 10_000 }),
      reduce((_, m) => {
        if (m.subject === markerSubject) {
          const marker = decodeMarker(m.data);
          if (marker !== undefined) markers.set(marker.replayed, marker);
          return 0;
        }
        let record: DeadLetterRecord;
        try {
          record = decodeDeadLetter(m.data);
        } catch {
          return 0; // Not ours (someone published on the subject): listing carries on.
        }
        if (!matches(m.seq, record, options)) return 0;
        matched += 1;
        if (newest) {
          kept.push({ seq: m.seq, record });
          if (kept.length > limit) kept.shift();
        } else if (kept.length < limit) {
          kept.push({ seq: m.seq, record });
        }
        return 0;
      }, 0),
    ),
  );
  const entries: DeadLetterEntry[] = [];
  for (const { seq, record } of kept) {
    const replay = markers.get(seq);
    const status: DeadLetterStatus = replay !== undefined ? 'replayed' : record.replayOf !== undefined ? 'parked' : 'dead';
    if (options.status !== undefined && !options.status.includes(status)) continue;
    entries.push({ seq, record, status, replay });
  }
  const full = !newest && kept.length === limit;
  return { stream, ...state, entries, matched, nextSeq: full ? kept.at(-1)!.seq + 1 : state.lastSeq + 1 };
}

function matches(seq: number, r: DeadLetterRecord, f: DeadLetterFilter): boolean {
  if (f.seq !== undefined && seq !== f.seq) return false;
  if (f.subject !== undefined && !subjectMatches(f.subject, r.subject)) return false;
  if (f.reason !== undefined && !`${r.error.name}: ${r.error.message}`.toLowerCase().includes(f.reason.toLowerCase())) return false;
  // Parked is known from the record; replayed only once the markers after it are read.
  if (f.status !== undefined && (r.replayOf !== undefined ? !f.status.includes('parked') && !f.status.includes('replayed') : !f.status.includes('dead') && !f.status.includes('replayed'))) return false;
  if (f.sinceMs !== undefined && r.failedAt < f.sinceMs) return false;
  if (f.untilMs !== undefined && r.failedAt >= f.untilMs) return false;
  return true;
}

/** The bytes of a replay marker. */
export function encodeReplayMarker(marker: ReplayMarker): Uint8Array {
  return msgpackCodec.encode(marker);
}

function decodeMarker(data: Uint8Array): ReplayMarker | undefined {
  try {
    const m = msgpackCodec.decode(data) as Partial<ReplayMarker> | null;
    return m !== null && typeof m === 'object' && m.v === 1 && typeof m.replayed === 'number' ? (m as ReplayMarker) : undefined;
  } catch {
    return undefined;
  }
}
