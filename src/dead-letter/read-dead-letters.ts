import { firstValueFrom, reduce, takeWhile, timeout } from 'rxjs';
import { msgpackCodec } from '../codec/msgpack-codec.js';
import { InvalidConfigError } from '../errors.js';
import { subjectMatches } from '../transport/subject.js';
import type { StreamMessage, StreamState, Transport } from '../transport/transport.js';
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
  /** The selected entries (at most `limit`) in sequence order. */
  readonly entries: DeadLetterEntry[];
  /** Records matching every filter but `status`, by status. */
  readonly counts: Readonly<Record<DeadLetterStatus, number>>;
  /** Records that matched in the range read, status included (may exceed `entries.length`). */
  readonly matched: number;
  /** Where to continue: after the last entry kept when `limit` cut the read, else after the stream's last message. */
  readonly nextSeq: number;
}

/**
 * Reads a topology's dead-letter stream: the records that match `options`, each with its status.
 * Two passes over what is present at the call: the first finds the matching sequences and the
 * replay markers (which follow their records, so a status is known only at the end), the second
 * decodes the `limit` selected records. Holds sequence numbers for every match and whole
 * records for at most `limit`.
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
  if (state.messages === 0 || from > state.lastSeq)
    return { stream, ...state, entries: [], matched: 0, counts: { dead: 0, parked: 0, replayed: 0 }, nextSeq: Math.max(from, state.lastSeq + 1) };

  const candidates: Array<{ seq: number; parked: boolean }> = [];
  const markers = new Map<number, ReplayMarker>();
  await scan(transport, stream, from, state.lastSeq, (m) => {
    if (m.subject === markerSubject) {
      const marker = decodeMarker(m.data);
      if (marker !== undefined) markers.set(marker.replayed, marker);
      return;
    }
    const record = tryDecode(m.data);
    if (record !== undefined && matches(m.seq, record, options)) candidates.push({ seq: m.seq, parked: record.replayOf !== undefined });
  });
  const statusOf = (c: { seq: number; parked: boolean }): DeadLetterStatus => (markers.has(c.seq) ? 'replayed' : c.parked ? 'parked' : 'dead');
  const counts: Record<DeadLetterStatus, number> = { dead: 0, parked: 0, replayed: 0 };
  for (const c of candidates) counts[statusOf(c)] += 1;
  const matching = options.status === undefined ? candidates : candidates.filter((c) => options.status!.includes(statusOf(c)));
  const newest = options.fromSeq === undefined && options.seq === undefined;
  const selected = newest ? matching.slice(-limit) : matching.slice(0, limit);

  const records = new Map<number, DeadLetterRecord>();
  if (selected.length > 0) {
    const wanted = new Set(selected.map((c) => c.seq));
    await scan(transport, stream, selected[0]!.seq, selected.at(-1)!.seq, (m) => {
      if (!wanted.has(m.seq)) return;
      const record = tryDecode(m.data);
      if (record !== undefined) records.set(m.seq, record);
    });
  }
  const entries: DeadLetterEntry[] = [];
  for (const c of selected) {
    const record = records.get(c.seq);
    if (record !== undefined) entries.push({ seq: c.seq, record, status: statusOf(c), replay: markers.get(c.seq) });
  }
  const cut = !newest && matching.length > selected.length;
  return { stream, ...state, entries, matched: matching.length, counts, nextSeq: cut ? selected.at(-1)!.seq + 1 : state.lastSeq + 1 };
}

/** Visits the messages of `stream` from `from` to `to` (both present at the call), in order. */
async function scan(transport: Transport, stream: string, from: number, to: number, visit: (m: StreamMessage) => void): Promise<void> {
  await firstValueFrom(
    transport.consume({ stream, startSeq: from, maxInFlight: Math.min(to - from + 1, 1000) }).pipe(
      // Up to a sequence, not a count: messages dropped by the limits meanwhile would leave a
      // count waiting for messages that never come (limits drop the oldest, never `to`).
      takeWhile((m) => m.seq < to, true),
      timeout({ each: 10_000 }),
      reduce((_, m) => (visit(m), 0), 0),
    ),
    { defaultValue: 0 },
  );
}

function tryDecode(data: Uint8Array): DeadLetterRecord | undefined {
  try {
    return decodeDeadLetter(data);
  } catch {
    return undefined; // Not ours (someone published on the subject): reading carries on.
  }
}

function matches(seq: number, r: DeadLetterRecord, f: DeadLetterFilter): boolean {
  if (f.seq !== undefined && seq !== f.seq) return false;
  if (f.subject !== undefined && !subjectMatches(f.subject, r.subject)) return false;
  if (f.reason !== undefined && !`${r.error.name}: ${r.error.message}`.toLowerCase().includes(f.reason.toLowerCase())) return false;
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
