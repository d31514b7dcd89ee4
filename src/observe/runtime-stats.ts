import { subjectMatches } from '../transport/subject.js';
import type { PartProvider } from './part-stats.js';

/** A copy of the counters at one moment. */
export interface StatsSnapshot {
  /** Messages received per subject. */
  readonly received: Readonly<Record<string, number>>;
  /** Messages published per subject. */
  readonly published: Readonly<Record<string, number>>;
  readonly deadLetters: number;
  /** Stream messages delivered and not yet settled (their effects still in progress). */
  readonly unsettled: number;
  /**
   * Values that reached a sink after their input was acknowledged (a stage Sluice cannot see
   * is asynchronous): should stay 0.
   */
  readonly unsettledOutputs: number;
  /** The broker connection: outages so far and the last one (what core-subject sources missed). */
  readonly connection: ConnectionStats;
}

/** Broker outages, for {@link StatsSnapshot.connection}. */
export interface ConnectionStats {
  /** False from a disconnect until the reconnect. */
  readonly connected: boolean;
  readonly disconnects: number;
  readonly reconnects: number;
  /** Time spent disconnected, all outages together, ms (the current one counted up to now). */
  readonly disconnectedMs: number;
  /**
   * The last outage: a core-subject source received nothing published in this window, and the
   * client cannot know how much that was. `reconnectedAt` is absent while it lasts.
   */
  readonly lastGap?: { readonly disconnectedAt: string; readonly reconnectedAt?: string | undefined; readonly durationMs: number } | undefined;
}

/** Told about each output as it is published (acknowledged, for a durable sink); metrics use it. */
export interface StatsObserver {
  /** `eventTimeMs`: the output's envelope event time (epoch ms), when the value had one. */
  published(subject: string, eventTimeMs: number | undefined): void;
}

/** Subjects beyond this many are counted together under {@link OTHER_SUBJECTS}. */
export const MAX_TRACKED_SUBJECTS = 1000;
export const OTHER_SUBJECTS = '(other)';
/** Reply subjects (`_INBOX.<unique>`, one per request) are counted together under this key. */
export const INBOX_SUBJECTS = '_INBOX.>';
const INBOX_PREFIX = '_INBOX.';

/**
 * Counters per subject for summaries and the stats endpoint. Memory is bounded: per-key subjects
 * (`orders.<id>`) would otherwise grow without limit, so past {@link MAX_TRACKED_SUBJECTS}
 * distinct subjects the rest share one counter, and replies to requests (each to its own
 * `_INBOX.<unique>` subject) all count under {@link INBOX_SUBJECTS}.
 */
export class RuntimeStats {
  readonly #received = new Map<string, SubjectCount>();
  readonly #published = new Map<string, SubjectCount>();
  #deadLetters = 0;
  #unsettled = 0;
  #unsettledOutputs = 0;
  #disconnects = 0;
  #reconnects = 0;
  #closedGapsMs = 0;
  #downSince: number | undefined;
  #lastGap: { disconnectedAtMs: number; reconnectedAtMs?: number } | undefined;

  readonly #parts: PartProvider[] = [];
  readonly #partNames = new Set<string>();

  /**
   * Adds a part (a stream reader, a sink, an actor...) to what the stats endpoint reports; its
   * counters are read only when someone asks. A second part with a taken name gets ` #2`, ` #3`...
   * Returns the name it is reported under.
   */
  registerPart(part: PartProvider): string {
    let name = part.name;
    for (let n = 2; this.#partNames.has(name); n++) name = `${part.name} #${n}`;
    this.#partNames.add(name);
    this.#parts.push(name === part.name ? part : renamed(part, name));
    return name;
  }

  readonly #starting = new Set<Promise<unknown>>();

  /**
   * A part's start (an engine opening its store, creating its streams and subscribing its query
   * responder): `runTopology` resolves only once every start begun so far has settled, so a
   * topology reported running answers its actors' state queries.
   */
  starting(start: Promise<unknown>): void {
    this.#starting.add(start);
    const settled = (): void => void this.#starting.delete(start);
    start.then(settled, settled);
  }

  /** Settles once every start begun before or while waiting has settled (started or failed). */
  async started(): Promise<void> {
    while (this.#starting.size > 0) await Promise.allSettled([...this.#starting]);
  }

  #stopping: string | undefined;

  /** The run began to stop and drain, and why (`runTopology`'s stop reason): no longer ready for new work. */
  markStopping(reason: string): void {
    this.#stopping ??= reason;
  }

  /** Why the run is stopping, once it is; undefined while it runs. */
  get stopping(): string | undefined {
    return this.#stopping;
  }

  /** The registered parts, in registration order (build order: sources, then what reads them). */
  parts(): readonly PartProvider[] {
    return this.#parts;
  }

  /** The broker connection was lost at `atMs` (epoch ms). */
  recordDisconnect(atMs: number): void {
    if (this.#downSince !== undefined) return;
    this.#disconnects += 1;
    this.#downSince = atMs;
    this.#lastGap = { disconnectedAtMs: atMs };
  }

  /** The broker connection is back at `atMs` (epoch ms). */
  recordReconnect(atMs: number): void {
    if (this.#downSince === undefined) return;
    this.#reconnects += 1;
    this.#closedGapsMs += atMs - this.#downSince;
    this.#lastGap = { disconnectedAtMs: this.#downSince, reconnectedAtMs: atMs };
    this.#downSince = undefined;
  }

  connection(nowMs = Date.now()): ConnectionStats {
    const gap = this.#lastGap;
    const openMs = this.#downSince === undefined ? 0 : nowMs - this.#downSince;
    return {
      connected: this.#downSince === undefined,
      disconnects: this.#disconnects,
      reconnects: this.#reconnects,
      disconnectedMs: this.#closedGapsMs + openMs,
      ...(gap === undefined
        ? {}
        : {
            lastGap: {
              disconnectedAt: new Date(gap.disconnectedAtMs).toISOString(),
              ...(gap.reconnectedAtMs !== undefined ? { reconnectedAt: new Date(gap.reconnectedAtMs).toISOString() } : {}),
              durationMs: (gap.reconnectedAtMs ?? nowMs) - gap.disconnectedAtMs,
            },
          }),
    };
  }

  /** @param observer sinks call it on each publish; absent (the default), they skip it with one check. */
  constructor(readonly observer?: StatsObserver | undefined) {}

  recordUnsettled(delta: number): void {
    this.#unsettled += delta;
  }

  recordUnsettledOutput(): void {
    this.#unsettledOutputs += 1;
  }

  get unsettled(): number {
    return this.#unsettled;
  }

  recordReceived(subject: string, count = 1): void {
    countOf(this.#received, subject).n += count;
  }

  recordPublished(subject: string, count = 1): void {
    countOf(this.#published, subject).n += count;
  }

  /**
   * The counter `recordReceived(subject)` bumps, for a source that receives on one subject only:
   * it bumps the counter itself and skips the map lookup per message. Taken on the first message,
   * so a subject that never received anything is not reported.
   */
  receivedCount(subject: string): { n: number } {
    return countOf(this.#received, subject);
  }

  recordDeadLetter(): void {
    this.#deadLetters += 1;
  }

  /** Sum of received (or published) counts over subjects matching `pattern` (all when omitted). */
  total(kind: 'received' | 'published', pattern?: string): number {
    let sum = 0;
    for (const [subject, { n }] of kind === 'received' ? this.#received : this.#published) {
      if (pattern === undefined || subjectMatches(pattern, subject)) sum += n;
    }
    return sum;
  }

  get deadLetters(): number {
    return this.#deadLetters;
  }

  snapshot(): StatsSnapshot {
    return {
      received: countsOf(this.#received),
      published: countsOf(this.#published),
      deadLetters: this.#deadLetters,
      unsettled: this.#unsettled,
      unsettledOutputs: this.#unsettledOutputs,
      connection: this.connection(),
    };
  }
}

/** One subject's count; a mutable cell so a hot path can hold it and skip the map. */
interface SubjectCount {
  n: number;
}

// One map lookup for a known subject: this runs twice per event.
function countOf(counts: Map<string, SubjectCount>, subject: string): SubjectCount {
  const known = counts.get(subject);
  if (known !== undefined) return known;
  if (subject.startsWith(INBOX_PREFIX)) subject = INBOX_SUBJECTS;
  else if (counts.size >= MAX_TRACKED_SUBJECTS) subject = OTHER_SUBJECTS;
  let count = counts.get(subject);
  if (count === undefined) counts.set(subject, (count = { n: 0 }));
  return count;
}

function countsOf(counts: Map<string, SubjectCount>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [subject, { n }] of counts) out[subject] = n;
  return out;
}

function renamed(part: PartProvider, name: string): PartProvider {
  return { kind: part.kind, name, read: () => part.read(), lag: part.lag === undefined ? undefined : () => part.lag!() };
}
