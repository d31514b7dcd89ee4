import { subjectMatches } from '../transport/subject.js';
import type { StreamInfo, Transport } from '../transport/transport.js';
import type { OutboxEntry } from './outbox-codec.js';
import type { Logger } from '../logger.js';

/** An outbox record as recovered at start. */
export interface RecoveredBatch {
  readonly seq: number;
  readonly createdAt: number;
  readonly entries: readonly OutboxEntry[];
}

/** What {@link checkStaleOutbox} found. */
export interface StaleCheck {
  /** Entries older than their stream's duplicate window. */
  stale: number;
  /** Ids of stale entries already stored in their output stream: not to be published again. */
  found: Set<string>;
  /** Stale entries whose stream could not be read: published again, possibly duplicated. */
  unverified: number;
}

// Clocks of this host and the server may differ; scan from a little before the first publish.
const SCAN_MARGIN_MS = 60_000;

/**
 * Handles the case the duplicate window cannot: outbox entries first published longer ago than
 * their output stream's `duplicate_window` (an outage longer than the window). For those the
 * server no longer remembers the id, so a blind re-publish could store a second copy. Instead the
 * output stream is searched (`findMsgIds`: headers only, from just before the oldest such entry's
 * first publish to its current end) and every id already there is reported in `found`, not to be
 * sent again.
 * Entries on a subject no stream captures, or whose stream cannot be read, are counted as
 * `unverified` and logged at error level: the caller publishes them again (at-least-once).
 */
export async function checkStaleOutbox(args: {
  transport: Pick<Transport, 'findStream' | 'findMsgIds'>;
  batches: readonly RecoveredBatch[];
  msgIdPrefix: string;
  nowMs: number;
  /** Overrides the windows read from the streams, ms. */
  duplicateWindowMs?: number | undefined;
  logger: Logger;
}): Promise<StaleCheck> {
  const { transport, batches, msgIdPrefix, nowMs, logger } = args;
  const result: StaleCheck = { stale: 0, found: new Set(), unverified: 0 };
  const known: StreamInfo[] = [];
  const unknownSubjects = new Set<string>();
  const streamOf = async (subject: string): Promise<StreamInfo | undefined> => {
    const hit = known.find((s) => s.subjects.some((p) => subjectMatches(p, subject)));
    if (hit !== undefined || unknownSubjects.has(subject)) return hit;
    try {
      const info = await transport.findStream(subject);
      if (info === undefined) throw new Error('no stream captures the subject');
      known.push(info);
      return info;
    } catch (err) {
      unknownSubjects.add(subject);
      logger.warn({ subject, err: (err as Error).message }, 'exactly-once recovery: no output stream found for an outbox subject');
      return undefined;
    }
  };

  // Stale entries grouped by stream, with the earliest first-publish time per stream.
  const byStream = new Map<StreamInfo, { ids: Set<string>; since: number }>();
  for (const b of batches) {
    for (const e of b.entries) {
      const s = await streamOf(e.subject);
      const windowMs = args.duplicateWindowMs ?? s?.duplicateWindowMs ?? 0;
      // The re-publish itself takes time to reach the server: treat "almost expired" as expired.
      const margin = Math.min(windowMs / 10, 10_000);
      if (nowMs - b.createdAt <= windowMs - margin) continue;
      result.stale += 1;
      if (s === undefined) {
        result.unverified += 1;
        continue;
      }
      let g = byStream.get(s);
      if (g === undefined) byStream.set(s, (g = { ids: new Set(), since: b.createdAt }));
      g.ids.add(`${msgIdPrefix}${e.seq}.${e.index}`);
      g.since = Math.min(g.since, b.createdAt);
    }
  }
  if (result.stale === 0) return result;
  logger.warn(
    { stale: result.stale, streams: [...byStream.keys()].map((s) => s.name) },
    'exactly-once recovery: outbox entries older than the duplicate window; checking the output streams before re-publishing',
  );

  for (const [s, g] of byStream) {
    try {
      if (s.lastSeq === 0) continue;
      for (const id of await transport.findMsgIds(s.name, g.ids, { sinceMs: g.since - SCAN_MARGIN_MS })) result.found.add(id);
    } catch (err) {
      result.unverified += g.ids.size;
      logger.error(
        { stream: s.name, err: (err as Error).message },
        'exactly-once recovery: cannot read the output stream; stale outputs will be published again and may be duplicated',
      );
    }
  }
  if (result.unverified > 0) {
    logger.error(
      { unverified: result.unverified },
      'exactly-once recovery: publishing outputs older than the duplicate window without being able to check them: they may be duplicated',
    );
  }
  return result;
}
