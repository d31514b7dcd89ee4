import { DeliverPolicy, jetstream, type JetStreamManager } from '@nats-io/jetstream';
import { millis, type NatsConnection } from '@nats-io/nats-core';
import { HEADERS } from '../envelope/envelope.js';
import { subjectMatches } from '../transport/subject.js';
import type { OutboxEntry } from './outbox-codec.js';
import type { ExactlyOnceLogger } from './types.js';

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

interface StreamFacts {
  name: string;
  subjects: string[];
  windowMs: number;
  lastSeq: number;
}

// Clocks of this host and the server may differ; scan from a little before the first publish.
const SCAN_MARGIN_MS = 60_000;

/**
 * Handles the case the duplicate window cannot: outbox entries first published longer ago than
 * their output stream's `duplicate_window` (an outage longer than the window). For those the
 * server no longer remembers the id, so a blind re-publish could store a second copy. Instead the
 * output stream is read (headers only, from just before the oldest such entry's first publish to
 * its current end) and every id already there is reported in `found`, not to be sent again.
 * Entries on a subject no stream captures, or whose stream cannot be read, are counted as
 * `unverified` and logged at error level: the caller publishes them again (at-least-once).
 */
export async function checkStaleOutbox(args: {
  nc: NatsConnection;
  jsm: JetStreamManager;
  batches: readonly RecoveredBatch[];
  msgIdPrefix: string;
  nowMs: number;
  /** Overrides the windows read from the streams, ms. */
  duplicateWindowMs?: number | undefined;
  logger: ExactlyOnceLogger;
}): Promise<StaleCheck> {
  const { jsm, batches, msgIdPrefix, nowMs, logger } = args;
  const result: StaleCheck = { stale: 0, found: new Set(), unverified: 0 };
  const known: StreamFacts[] = [];
  const unknownSubjects = new Set<string>();
  const streamOf = async (subject: string): Promise<StreamFacts | undefined> => {
    const hit = known.find((s) => s.subjects.some((p) => subjectMatches(p, subject)));
    if (hit !== undefined || unknownSubjects.has(subject)) return hit;
    try {
      const name = await jsm.streams.find(subject);
      const info = await jsm.streams.info(name);
      const facts = { name, subjects: info.config.subjects ?? [], windowMs: millis(info.config.duplicate_window ?? 0), lastSeq: info.state.last_seq };
      known.push(facts);
      return facts;
    } catch (err) {
      unknownSubjects.add(subject);
      logger.warn({ subject, err: (err as Error).message }, 'exactly-once recovery: no output stream found for an outbox subject');
      return undefined;
    }
  };

  // Stale entries grouped by stream, with the earliest first-publish time per stream.
  const byStream = new Map<StreamFacts, { ids: Set<string>; since: number }>();
  for (const b of batches) {
    for (const e of b.entries) {
      const s = await streamOf(e.subject);
      const windowMs = args.duplicateWindowMs ?? s?.windowMs ?? 0;
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
  logger.warn({ stale: result.stale, streams: [...byStream.keys()].map((s) => s.name) }, 'exactly-once recovery: outbox entries older than the duplicate window; checking the output streams before re-publishing');

  const js = jetstream(args.nc);
  for (const [s, g] of byStream) {
    try {
      if (s.lastSeq === 0) continue;
      const consumer = await js.consumers.get(s.name, {
        deliver_policy: DeliverPolicy.StartTime,
        opt_start_time: new Date(g.since - SCAN_MARGIN_MS).toISOString(),
        headers_only: true,
      });
      let done = false;
      while (!done) {
        let got = 0;
        for await (const m of await consumer.fetch({ max_messages: 1000, expires: 2000 })) {
          got += 1;
          const id = m.headers?.get(HEADERS.msgId);
          if (id !== undefined && g.ids.has(id)) result.found.add(id);
          if (m.seq >= s.lastSeq) {
            done = true;
            break;
          }
        }
        if (got === 0) done = true;
      }
    } catch (err) {
      result.unverified += g.ids.size;
      logger.error({ stream: s.name, err: (err as Error).message }, 'exactly-once recovery: cannot read the output stream; stale outputs will be published again and may be duplicated');
    }
  }
  if (result.unverified > 0) {
    logger.error({ unverified: result.unverified }, 'exactly-once recovery: publishing outputs older than the duplicate window without being able to check them: they may be duplicated');
  }
  return result;
}
