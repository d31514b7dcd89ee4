import { createHash } from 'node:crypto';
import { InvalidConfigError } from '../errors.js';
import { keyFits } from '../state/state-key.js';
import type { StateStore, StateWriter } from '../state/types.js';

/** Options of {@link GroupLog}. */
export interface GroupLogConfig {
  /** The topology's LMDB state store. The caller owns it (opens and closes it). */
  store: StateStore;
  /**
   * Names the grouping stage: its namespaces are `group-log.<name>` and
   * `group-log.<name>.members`, and it starts every group key. Keep it stable across deploys.
   */
  name: string;
  /**
   * How long a published group's record is kept, ms. Default 120000 (JetStream's default
   * duplicate window): size it to the output stream's `duplicate_window`.
   */
  retentionMs?: number | undefined;
  /** Epoch ms now (the operator's scheduler). */
  now: () => number;
}

/** One recorded group: which inputs it holds, in emit order. */
export interface RecordedGroup {
  /** Deterministic from `name` and the members: the group's settlement key, so its output ids. */
  readonly key: string;
  /** Settlement keys of the members (`<stream>:<seq>`), in the order the group emits them. */
  readonly members: readonly string[];
  /** Epoch ms of the record. */
  readonly recordedAt: number;
  /** Epoch ms at which the group's effects were complete; absent while they are not. */
  readonly publishedAt?: number | undefined;
}

interface StoredGroup {
  members: string[];
  recordedAt: number;
  publishedAt?: number;
}

/** Default retention of published records: JetStream's default duplicate window. */
export const GROUP_LOG_RETENTION_MS = 120_000;
// Bounds one commit's clean-up work, so a burst of expiries cannot stall a batch.
const PURGE_PER_COMMIT = 256;

/**
 * Which inputs went into which group, kept in LMDB so that a replay after a crash rebuilds the
 * same groups under the same keys — what Spark's offset log and Kafka Streams' commits do for
 * their batches. The grouping stage records a group in one commit BEFORE the group's effects
 * start, and marks it published in one commit AFTER they are complete and BEFORE its members are
 * acknowledged. So, after a crash:
 * - a member of a recorded, unpublished group is regrouped with exactly that group's members
 *   under the same key, so a durable sink re-publishes under the same message ids and JetStream
 *   drops what had already arrived;
 * - a member of a published group (a crash between the mark and the acks) is just acknowledged.
 *
 * Retention: a published record is deleted `retentionMs` after it was published. It only matters
 * while a member may still be redelivered, and it is worth keeping exactly as long as the sink's
 * message ids are: past JetStream's duplicate window even a re-publish under the same id is
 * stored again, so the promise is "exactly-once within the duplicate window" either way, and a
 * longer retention would only cost disk. For the same reason, records still unpublished that are
 * older than the retention when the log opens (the process was down longer than the window) are
 * dropped: regrouping their members under new keys cannot do worse than the expired ids would.
 *
 * Cost per group: one commit to record (the group plus one index entry per member) and one to mark
 * it published, both on LMDB's writer thread (concurrent commits are batched); deletions ride
 * along in later commits. Finding whether an arriving input is in a recorded group is one read.
 */
export class GroupLog {
  private readonly store: StateStore;
  private readonly stage: string;
  private readonly groups: string;
  private readonly index: string;
  private readonly retentionMs: number;
  private readonly now: () => number;
  /** Published groups by publish time, oldest first: what `purge` deletes once expired. */
  private expiring: Array<{ key: string; at: number }>;
  private expiringFrom = 0;

  /**
   * The key of a group: the stage name, the first member, the count, and a hash of all members.
   * A first member past 200 bytes (a poll cursor can be anything) is replaced by its hash, so the
   * key stays a valid LMDB key.
   */
  static keyOf(name: string, members: readonly string[]): string {
    const hash = createHash('sha256').update(members.join('\n')).digest('hex').slice(0, 12);
    const first = members[0] ?? 'none';
    return `${name}:${keyFits(first, 200) ? first : hashedKey(first)}+${members.length}:${hash}`;
  }

  /** Opens the log: reads the records of `name` and drops those past their retention. */
  constructor(config: GroupLogConfig) {
    if (typeof config.name !== 'string' || config.name.length === 0 || config.name.length > 150) {
      throw new InvalidConfigError('groupLog', 'name', `must be a string of 1..150 characters, got ${JSON.stringify(config.name)}`);
    }
    const retentionMs = config.retentionMs ?? GROUP_LOG_RETENTION_MS;
    if (!Number.isFinite(retentionMs) || retentionMs < 0) {
      throw new InvalidConfigError('groupLog', 'retentionMs', `must be a finite number >= 0, got ${retentionMs}`);
    }
    this.store = config.store;
    this.stage = config.name;
    this.groups = `group-log.${config.name}`;
    this.index = `group-log.${config.name}.members`;
    this.retentionMs = retentionMs;
    this.now = config.now;
    const now = this.now();
    const stale: Array<{ key: string; value: StoredGroup }> = [];
    const published: Array<{ key: string; at: number }> = [];
    for (const { key, value } of this.store.entries<StoredGroup>(this.groups)) {
      const at = value.publishedAt ?? value.recordedAt;
      if (at + retentionMs <= now) stale.push({ key, value });
      else if (value.publishedAt !== undefined) published.push({ key, at: value.publishedAt });
    }
    for (let i = 0; i < stale.length; i += PURGE_PER_COMMIT) {
      this.store.transaction((w) => {
        for (const s of stale.slice(i, i + PURGE_PER_COMMIT)) this.remove(w, s.key, s.value);
      });
    }
    this.expiring = published.sort((a, b) => a.at - b.at);
  }

  /** The recorded group `memberKey` belongs to, if any. */
  groupOf(memberKey: string): RecordedGroup | undefined {
    const key = this.store.get<string>(this.index, indexKey(memberKey));
    if (key === undefined) return undefined;
    const g = this.store.get<StoredGroup>(this.groups, key);
    return g === undefined ? undefined : { key, members: g.members, recordedAt: g.recordedAt, publishedAt: g.publishedAt };
  }

  /** A new group of `members` (settlement keys, in emit order), not yet recorded. */
  groupFor(members: readonly string[]): RecordedGroup {
    return { key: GroupLog.keyOf(this.stage, members), members, recordedAt: this.now() };
  }

  /**
   * Records `group` in one commit, with the removal of expired records. Its effects may start
   * once the promise resolves. LMDB commits on its writer thread, in call order, without
   * blocking the event loop (like the exactly-once engine's commits).
   * @returns rejects with StateFullError when the store is full (nothing recorded)
   */
  record(group: RecordedGroup): Promise<void> {
    return this.commit((w) => {
      this.put(w, group);
      this.purge(w);
    });
  }

  /**
   * Replaces `old` (a replayed group some of whose members never came back: dead-lettered, or
   * beyond the source's bound) by `group`, of the members that did, in one commit. The new group
   * has a new key: publishing other contents under the old ids could be dropped as duplicates of
   * outputs that carried other inputs.
   */
  regroup(old: RecordedGroup, group: RecordedGroup): Promise<void> {
    return this.commit((w) => {
      this.remove(w, old.key, { members: [...old.members], recordedAt: old.recordedAt });
      this.put(w, group);
    });
  }

  /** Marks the group's effects complete, in one commit: its members may be acknowledged once it resolves. */
  markPublished(group: RecordedGroup): Promise<void> {
    const at = this.now();
    return this.commit((w) => {
      w.put(this.groups, group.key, { members: [...group.members], recordedAt: group.recordedAt, publishedAt: at } satisfies StoredGroup);
      this.purge(w);
    }).then(() => void this.expiring.push({ key: group.key, at }));
  }

  private commit(fn: (w: StateWriter) => void): Promise<void> {
    try {
      return this.store.transactionAsync(fn);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private put(w: StateWriter, group: RecordedGroup): void {
    w.put(this.groups, group.key, { members: [...group.members], recordedAt: group.recordedAt } satisfies StoredGroup);
    for (const m of group.members) w.put(this.index, indexKey(m), group.key);
  }

  private remove(w: StateWriter, key: string, group: StoredGroup): void {
    w.delete(this.groups, key);
    // A member regrouped since points at its new group: leave that entry alone.
    for (const m of group.members) if (this.store.get<string>(this.index, indexKey(m)) === key) w.delete(this.index, indexKey(m));
  }

  private purge(w: StateWriter): void {
    const limit = this.now() - this.retentionMs;
    let n = 0;
    while (this.expiringFrom < this.expiring.length && n < PURGE_PER_COMMIT) {
      const e = this.expiring[this.expiringFrom]!;
      if (e.at > limit) break;
      this.expiringFrom++;
      n++;
      const g = this.store.get<StoredGroup>(this.groups, e.key);
      // Only the entry of its latest publish counts (a group can be published again after a replay).
      if (g !== undefined && g.publishedAt === e.at) this.remove(w, e.key, g);
    }
    if (this.expiringFrom > 1024 && this.expiringFrom * 2 > this.expiring.length) {
      this.expiring.splice(0, this.expiringFrom);
      this.expiringFrom = 0;
    }
  }
}

const HASHED = '#sha256:';

function hashedKey(key: string): string {
  return HASHED + createHash('sha256').update(key).digest('hex');
}

/**
 * A member's key in the index namespace: itself, or its SHA-256 when it is longer than 200 bytes
 * or could be mistaken for a hash (starts with `#sha256:`), so two members never share an entry.
 * The index is only ever read by member key, and the group's record keeps the full keys.
 */
function indexKey(member: string): string {
  return keyFits(member, 200) && !member.startsWith(HASHED) ? member : hashedKey(member);
}
