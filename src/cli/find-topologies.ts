import type { PartStats, PartState } from '../observe/part-stats.js';
import type { TopologyHealth, TopologyStats } from '../runtime/topology-stats.js';
import { natsServiceStats } from '../transport/nats/nats-service-stats.js';
import type { NatsTransport } from '../transport/nats/nats-transport.js';

/** A running topology as `$SRV.STATS` shows it: its instances' stats merged. */
export interface FoundTopology extends TopologyStats {
  /** Service instance ids (`nats micro info sluice-<topology>`). */
  readonly instances: readonly string[];
  readonly version: string;
}

const SERVICE_PREFIX = 'sluice-';

/**
 * Every Sluice topology running on the NATS system (or only `topology`), found through
 * `$SRV.STATS`: each instance answers with its `TopologyStats` as the data of its `stats`
 * endpoint. Instances of one topology are merged (counters and rates added, lags and batch
 * sizes the largest, health the worst). Sorted by name.
 */
export async function findTopologies(transport: NatsTransport, options: { topology?: string | undefined; maxWaitMs: number }): Promise<FoundTopology[]> {
  const answers = await natsServiceStats(transport, {
    name: options.topology !== undefined ? `${SERVICE_PREFIX}${options.topology}` : undefined,
    maxWaitMs: options.maxWaitMs,
  });
  const byTopology = new Map<string, Array<{ id: string; version: string; stats: TopologyStats }>>();
  for (const a of answers) {
    if (!a.name.startsWith(SERVICE_PREFIX)) continue;
    const stats = a.endpoints?.find((e) => e.name === 'stats')?.data as TopologyStats | undefined;
    if (stats === undefined || stats === null || typeof stats.topology !== 'string' || !Array.isArray(stats.parts)) continue;
    const list = byTopology.get(stats.topology) ?? [];
    list.push({ id: a.id, version: a.version, stats });
    byTopology.set(stats.topology, list);
  }
  return [...byTopology.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([, list]) => ({ ...merge(list.map((l) => l.stats)), instances: list.map((l) => l.id).sort(), version: list[0]!.version }));
}

const HEALTH: readonly TopologyHealth[] = ['ok', 'starting', 'degraded', 'failing'];
const STATES: readonly PartState[] = ['completed', 'running', 'starting', 'failed'];

function merge(all: readonly TopologyStats[]): TopologyStats {
  if (all.length === 1) return all[0]!;
  const first = all[0]!;
  const sum = (pick: (s: TopologyStats) => number): number => all.reduce((n, s) => n + pick(s), 0);
  const parts = first.parts.map((p) => mergeParts(all.map((s) => s.parts.find((q) => q.name === p.name)).filter((q): q is PartStats => q !== undefined)));
  return {
    ...first,
    received: addRecords(all.map((s) => s.received)),
    published: addRecords(all.map((s) => s.published)),
    deadLetters: sum((s) => s.deadLetters),
    unsettled: sum((s) => s.unsettled),
    unsettledOutputs: sum((s) => s.unsettledOutputs),
    uptimeMs: Math.max(...all.map((s) => s.uptimeMs)),
    health: all.map((s) => s.health).reduce((a, b) => (HEALTH.indexOf(b) > HEALTH.indexOf(a) ? b : a)),
    problems: [...new Set(all.flatMap((s) => s.problems))],
    totals: {
      in: sum((s) => s.totals.in),
      out: sum((s) => s.totals.out),
      inPerSec: sum((s) => s.totals.inPerSec),
      outPerSec: sum((s) => s.totals.outPerSec),
      deadLetters: sum((s) => s.totals.deadLetters),
      unsettled: sum((s) => s.totals.unsettled),
      // Instances share their consumers: each sees the same backlog.
      lag: parts.reduce((n, p) => n + (p.lag ?? 0), 0),
    },
    parts,
  };
}

function mergeParts(same: readonly PartStats[]): PartStats {
  const add = (pick: (p: PartStats) => number | null): number | null =>
    same.every((p) => pick(p) === null) ? null : same.reduce((n, p) => n + (pick(p) ?? 0), 0);
  const max = (pick: (p: PartStats) => number | null): number | null =>
    same.every((p) => pick(p) === null) ? null : Math.max(...same.map((p) => pick(p) ?? 0));
  const first = same[0]!;
  return {
    ...first,
    state: same.map((p) => p.state).reduce((a, b) => (STATES.indexOf(b) > STATES.indexOf(a) ? b : a)),
    in: add((p) => p.in)!,
    out: add((p) => p.out)!,
    inPerSec: add((p) => p.inPerSec)!,
    outPerSec: add((p) => p.outPerSec)!,
    deadLetters: add((p) => p.deadLetters)!,
    unsettled: add((p) => p.unsettled),
    lag: max((p) => p.lag),
    batches: add((p) => p.batches),
    lastBatchSize: max((p) => p.lastBatchSize),
    maxBatchSize: max((p) => p.maxBatchSize),
    actors: add((p) => p.actors),
    outbox: add((p) => p.outbox),
    detail: undefined,
  };
}

function addRecords(all: readonly Readonly<Record<string, number>>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of all) for (const [k, v] of Object.entries(r)) out[k] = (out[k] ?? 0) + v;
  return out;
}
