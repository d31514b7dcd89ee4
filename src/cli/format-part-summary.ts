import type { PartProvider, PartReading } from '../observe/part-stats.js';

/** What {@link formatPartSummary} remembers between two summaries: each part's counts. */
export type PartSummaryBase = ReadonlyMap<string, { readonly in: number; readonly out: number; readonly at: number }>;

/**
 * The live summary of `sluice run --summary-every-ms`: one compact line per part of a running
 * topology (pipelines left out: their counts are their last part's), from the parts' own
 * counters (a synchronous read, never a broker request), e.g.
 *
 * ```text
 * hybrid-orders 9s | actor order-status             in 1,502 (167/s) out 1,730 | batches 41 (last 12) | actors 212 | outbox 0 | dlq 0
 * hybrid-orders 9s | durable-batch nightly-preferences in 43 (5/s) out 1 | batches 1 (last 40) | open 3 | outbox 0 | dlq 0
 * ```
 *
 * Rates are per second since `base` (the previous summary), or since the start. A part whose
 * read throws (its store closed during a drain) is left out. Returns the lines and the new base.
 */
export function formatPartSummary(
  topology: string,
  elapsedMs: number,
  parts: readonly PartProvider[],
  base: PartSummaryBase | undefined,
  now: number,
): { lines: string[]; base: PartSummaryBase } {
  const read: Array<{ name: string; kind: string; r: PartReading }> = [];
  for (const p of parts) {
    if (p.kind === 'pipeline') continue;
    try {
      read.push({ name: p.name, kind: p.kind, r: p.read() });
    } catch {
      // a part whose store is already closed has nothing to add
    }
  }
  const width = Math.max(0, ...read.map((p) => p.name.length));
  const next = new Map<string, { in: number; out: number; at: number }>();
  const head = `${topology} ${Math.round(elapsedMs / 1000)}s |`;
  const lines = read.map(({ name, kind, r }) => {
    next.set(name, { in: r.in, out: r.out, at: now });
    const then = base?.get(name);
    const seconds = then !== undefined ? (now - then.at) / 1000 : elapsedMs / 1000;
    const rate = seconds > 0 ? Math.round((r.in - (then?.in ?? 0)) / seconds) : 0;
    const fields = [`in ${count(r.in)} (${count(rate)}/s) out ${count(r.out)}`];
    if (r.batches !== null) fields.push(`batches ${count(r.batches)}${r.lastBatchSize !== null ? ` (last ${count(r.lastBatchSize)})` : ''}`);
    if (kind === 'durable-batch' && r.detail?.open !== undefined) fields.push(`open ${count(r.detail.open)}`);
    if (r.actors !== null) fields.push(`actors ${count(r.actors)}`);
    if (r.unsettled !== null) fields.push(`unsettled ${count(r.unsettled)}`);
    if (r.outbox !== null) fields.push(`outbox ${count(r.outbox)}`);
    fields.push(`dlq ${count(r.deadLetters)}`);
    if (r.state !== 'running') fields.push(r.state.toUpperCase());
    return `${head} ${name.padEnd(width)} ${fields.join(' | ')}`;
  });
  return { lines, base: next };
}

function count(n: number): string {
  return n.toLocaleString('en-GB');
}
