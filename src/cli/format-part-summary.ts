import { ENGINE_KINDS, type PartProvider, type PartReading } from '../observe/part-stats.js';
import type { StatsSnapshot } from '../observe/runtime-stats.js';

/** What {@link formatPartSummary} remembers between two summaries: each part's counts, and the run's (under `''`). */
export type PartSummaryBase = ReadonlyMap<string, { readonly in: number; readonly out: number; readonly at: number }>;

/** What {@link formatPartSummary} reads. */
export interface PartSummaryInput {
  readonly topology: string;
  /** Time since the run started, ms. */
  readonly elapsedMs: number;
  readonly parts: readonly PartProvider[];
  /** The run's counters per subject: the last line gives the totals and what went out on each subject. */
  readonly totals: Pick<StatsSnapshot, 'received' | 'published' | 'deadLetters'>;
  /** The previous summary's counts; without it rates are since the start. */
  readonly base?: PartSummaryBase | undefined;
  /** Epoch ms, for the next summary's rates. */
  readonly now: number;
  /** The summary at the end of a run: lines read `<topology> done <s>s | ...`. */
  readonly final?: boolean | undefined;
}

/** Subjects named on the totals line at most; the rest are counted as `+n more`. */
const MAX_SUBJECTS = 6;
/** Subjects of Sluice's own traffic: `sluice.actor.*`, `sluice.batch.*`, `sluice.window.*`, `sluice.dlq.*`. */
const INTERNAL_PREFIX = 'sluice.';
/** Engines write their dead letters exactly once through their outbox: the runtime's count leaves them out. */

/**
 * The summary of `sluice run`: every `--summary-every-ms`, and once when the run ends. One
 * compact line per part of a running topology (pipelines left out: their counts are their last
 * part's), from the parts' own counters (a synchronous read, never a broker request), then one
 * line of totals — messages in and out on the topology's subjects (Sluice's own `sluice.*`
 * traffic left out; what actors, durable batches and windows emit through their outbox is on
 * their own lines), every dead letter, and the busiest subjects out with their share — e.g.
 *
 * ```text
 * order-routing 9s | source shop.orders.* in 4,500 (500/s) out 4,500 | dlq 0
 * order-routing 9s | sink fulfilment      in 4,500 (500/s) out 4,500 | dlq 0
 * order-routing 9s | total in 4,500 (500/s) out 4,500 | dlq 0 | shop.fulfilment.standard 3,492 (78%), shop.fulfilment.priority 1,008 (22%)
 * ```
 *
 * Rates are per second since `base` (the previous summary), or since the start (so the final
 * summary's are the run's averages). A part whose read throws (its store closed during a drain)
 * is left out. Returns the lines and the new base.
 */
export function formatPartSummary(input: PartSummaryInput): { lines: string[]; base: PartSummaryBase } {
  const { topology, elapsedMs, parts, totals, base, now } = input;
  const read: Array<{ name: string; kind: string; r: PartReading }> = [];
  let engineDeadLetters = 0;
  for (const p of parts) {
    if (p.kind === 'pipeline') continue;
    try {
      const r = p.read();
      read.push({ name: p.name, kind: p.kind, r });
      if (ENGINE_KINDS.has(p.kind)) engineDeadLetters += r.deadLetters;
    } catch {
      // a part whose store is already closed has nothing to add
    }
  }
  const width = Math.max(0, ...read.map((p) => p.name.length));
  const next = new Map<string, { in: number; out: number; at: number }>();
  const head = `${topology}${input.final === true ? ' done' : ''} ${Math.round(elapsedMs / 1000)}s |`;
  const rateOf = (key: string, n: number): number => {
    const then = base?.get(key);
    const seconds = then !== undefined ? (now - then.at) / 1000 : elapsedMs / 1000;
    return seconds > 0 ? Math.round((n - (then?.in ?? 0)) / seconds) : 0;
  };
  const lines = read.map(({ name, kind, r }) => {
    next.set(name, { in: r.in, out: r.out, at: now });
    const fields = [`in ${count(r.in)} (${count(rateOf(name, r.in))}/s) out ${count(r.out)}`];
    if (r.batches !== null) fields.push(`batches ${count(r.batches)}${r.lastBatchSize !== null ? ` (last ${count(r.lastBatchSize)})` : ''}`);
    if (kind === 'durable-batch' && r.detail?.open !== undefined) fields.push(`open ${count(r.detail.open)}`);
    if (r.actors !== null) fields.push(`actors ${count(r.actors)}`);
    if (r.unsettled !== null) fields.push(`unsettled ${count(r.unsettled)}`);
    if (r.outbox !== null) fields.push(`outbox ${count(r.outbox)}`);
    fields.push(`dlq ${count(r.deadLetters)}`);
    if (r.state !== 'running') fields.push(r.state.toUpperCase());
    return `${head} ${name.padEnd(width)} ${fields.join(' | ')}`;
  });
  // Sluice's own subjects (hand-over to actors and batches, per key; dead letters, counted apart) are neither the topology's input nor its output.
  const received = Object.entries(totals.received).reduce((n, [subject, c]) => (subject.startsWith(INTERNAL_PREFIX) ? n : n + c), 0);
  const published = Object.entries(totals.published)
    .filter(([subject]) => !subject.startsWith(INTERNAL_PREFIX))
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1));
  const out = published.reduce((n, [, c]) => n + c, 0);
  next.set('', { in: received, out, at: now });
  const bySubject = published.slice(0, MAX_SUBJECTS).map(([s, c]) => `${s} ${count(c)} (${Math.round((c * 100) / out)}%)`);
  if (published.length > MAX_SUBJECTS) bySubject.push(`+${published.length - MAX_SUBJECTS} more subjects`);
  const fields = [`total in ${count(received)} (${count(rateOf('', received))}/s) out ${count(out)}`, `dlq ${count(totals.deadLetters + engineDeadLetters)}`];
  if (bySubject.length > 0) fields.push(bySubject.join(', '));
  lines.push(`${head} ${fields.join(' | ')}`);
  return { lines, base: next };
}

function count(n: number): string {
  return n.toLocaleString('en-GB');
}
