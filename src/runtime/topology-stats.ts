import { ENGINE_KINDS, partStateProblem, type PartProvider, type PartStats } from '../observe/part-stats.js';
import type { RuntimeStats, StatsSnapshot } from '../observe/runtime-stats.js';

/** How a topology is doing, from its parts: `failing` beats `degraded` beats `starting` beats `ok`. */
export type TopologyHealth = 'ok' | 'starting' | 'degraded' | 'failing';

/**
 * What the stats endpoint answers (`sluice.svc.<topology>.stats`, and the `data` of its endpoint
 * in `$SRV.STATS`): the runtime's counters as before, plus totals, health and every part in the
 * one {@link PartStats} shape. See docs/operations.md.
 */
export interface TopologyStats extends StatsSnapshot {
  readonly topology: string;
  readonly uptimeMs: number;
  readonly health: TopologyHealth;
  /** Why health is not `ok`, one short sentence each. */
  readonly problems: readonly string[];
  readonly totals: {
    /** Messages the topology's sources received, and what it published (core and JetStream). */
    readonly in: number;
    readonly out: number;
    /** Per second over the last ~10 s. */
    readonly inPerSec: number;
    readonly outPerSec: number;
    /** Every dead letter: the runtime's and those actors and durable batches wrote exactly once. */
    readonly deadLetters: number;
    /** Stream messages delivered whose effects are not complete. */
    readonly unsettled: number;
    /** Sum of the parts' lags (messages in their streams not yet delivered to them). */
    readonly lag: number;
  };
  readonly parts: readonly PartStats[];
}

/** Samples kept for rates: one a second, a minute of them. */
const SAMPLE_EVERY_MS = 1_000;
const KEEP_MS = 60_000;
const RATE_WINDOW_MS = 10_000;
const LAG_TIMEOUT_MS = 2_000;

interface Sample {
  readonly at: number;
  readonly in: number;
  readonly out: number;
  readonly deadLetters: number;
  readonly parts: ReadonlyMap<string, { in: number; out: number }>;
}

/** Options of {@link TopologyStatsCollector}. */
export interface TopologyStatsOptions {
  readonly topology: string;
  readonly stats: RuntimeStats;
  /** Epoch ms clock. */
  readonly now: () => number;
}

/**
 * Collects a topology's {@link TopologyStats} on request. It samples the counters once a second
 * (a minute of samples, a few numbers per part) so rates and recent dead letters need no second
 * request; lags are asked of the broker only when stats are requested.
 */
export class TopologyStatsCollector {
  readonly #o: TopologyStatsOptions;
  readonly #startedAt: number;
  readonly #samples: Sample[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(options: TopologyStatsOptions) {
    this.#o = options;
    this.#startedAt = options.now();
    this.#samples.push(this.#sample());
  }

  /** Starts sampling (a timer that does not keep the process alive). */
  start(): this {
    this.#timer ??= setInterval(() => this.#record(), SAMPLE_EVERY_MS).unref();
    return this;
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async collect(): Promise<TopologyStats> {
    const { stats, now, topology } = this.#o;
    const snapshot = stats.snapshot();
    const providers = stats.parts();
    const lags = await Promise.all(providers.map((p) => lagOf(p)));
    const current = this.#sample();
    const base = this.#sampleBefore(current.at - RATE_WINDOW_MS);
    const seconds = Math.max(0.001, (current.at - base.at) / 1000);
    const rate = (a: number, b: number): number => (current.at > base.at ? round((a - b) / seconds) : 0);
    const parts: PartStats[] = providers.map((p, i) => {
      const r = p.read();
      const then = base.parts.get(p.name) ?? { in: 0, out: 0 };
      return {
        kind: p.kind,
        name: p.name,
        state: r.state,
        in: r.in,
        out: r.out,
        inPerSec: rate(r.in, then.in),
        outPerSec: rate(r.out, then.out),
        deadLetters: r.deadLetters,
        unsettled: r.unsettled,
        lag: lags[i] ?? r.lag ?? null,
        batches: r.batches,
        lastBatchSize: r.lastBatchSize,
        maxBatchSize: r.maxBatchSize,
        actors: r.actors,
        outbox: r.outbox,
        ...(r.detail !== undefined ? { detail: r.detail } : {}),
      };
    });
    const minuteAgo = this.#sampleBefore(current.at - KEEP_MS);
    const problems: string[] = [];
    let health: TopologyHealth = 'ok';
    const worse = (h: TopologyHealth, why: string): void => {
      problems.push(why);
      if (HEALTH_ORDER.indexOf(h) > HEALTH_ORDER.indexOf(health)) health = h;
    };
    for (const p of parts) {
      const problem = partStateProblem(p.name, p.state);
      if (problem !== undefined) worse(problem.health, problem.why);
    }
    if (snapshot.unsettledOutputs > 0)
      worse(
        'degraded',
        `${snapshot.unsettledOutputs} values reached a sink after their input was acknowledged (an async stage Sluice cannot see: that path is at-most-once)`,
      );
    const recentDead = current.deadLetters - minuteAgo.deadLetters;
    if (recentDead > 0)
      worse(
        'degraded',
        `${recentDead} dead letter${recentDead === 1 ? '' : 's'} in the last ${Math.min(60, Math.round((current.at - minuteAgo.at) / 1000))} s`,
      );
    return {
      ...snapshot,
      topology,
      uptimeMs: now() - this.#startedAt,
      health,
      problems,
      totals: {
        in: current.in,
        out: current.out,
        inPerSec: rate(current.in, base.in),
        outPerSec: rate(current.out, base.out),
        deadLetters: current.deadLetters,
        unsettled: snapshot.unsettled,
        lag: parts.reduce((sum, p) => sum + (p.lag ?? 0), 0),
      },
      parts,
    };
  }

  #record(): void {
    const s = this.#sample();
    this.#samples.push(s);
    while (this.#samples.length > 2 && this.#samples[1]!.at <= s.at - KEEP_MS) this.#samples.shift();
  }

  /** The newest sample taken at or before `at`, else the oldest one kept. */
  #sampleBefore(at: number): Sample {
    let found = this.#samples[0]!;
    for (const s of this.#samples) {
      if (s.at > at) break;
      found = s;
    }
    return found;
  }

  #sample(): Sample {
    const { stats } = this.#o;
    const parts = new Map<string, { in: number; out: number }>();
    for (const p of stats.parts()) {
      const r = p.read();
      parts.set(p.name, { in: r.in, out: r.out });
    }
    return { at: this.#o.now(), in: stats.total('received'), out: stats.total('published'), deadLetters: allDeadLetters(stats), parts };
  }
}

/**
 * Every dead letter of a run: the runtime's (sources, operators, sinks) and those its engines
 * (actors, durable batches and windows) wrote exactly once themselves, which only their parts count.
 */
export function allDeadLetters(stats: RuntimeStats): number {
  let engines = 0;
  for (const p of stats.parts()) if (ENGINE_KINDS.has(p.kind)) engines += p.read().deadLetters;
  return stats.deadLetters + engines;
}

const HEALTH_ORDER: readonly TopologyHealth[] = ['ok', 'starting', 'degraded', 'failing'];

/** A part's lag, asked of the broker: undefined when the part has none, null when the broker did not answer within 2 s. */
export async function lagOf(p: PartProvider): Promise<number | null | undefined> {
  if (p.lag === undefined) return undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p.lag(), new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), LAG_TIMEOUT_MS)))]);
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
