/*
 * The sequential reference of period batches, shared by the property test and the NATS test: one
 * pass over the stream in order, with a map of open groups and a set of closed periods.
 */

/** An input of the batch's stream: a value `{ id, k, p, final? }` or a close `{ p }`. */
export type PeriodStep =
  | { readonly kind: 'value'; readonly id: number; readonly k: string; readonly p: string; readonly final: boolean }
  | { readonly kind: 'close'; readonly p: string };

/** What the model predicts: the values of each flushed group in order (by `k|p`), in seal order, the late ids, and the groups still open or waiting. */
export interface PeriodOutcome {
  readonly flushed: { readonly key: string; readonly period: string; readonly ids: readonly number[] }[];
  readonly late: readonly number[];
  readonly open: number;
  readonly waiting: number;
}

/**
 * The model. With `finalRule`, a group of a closed period flushes once it holds a 'final' value
 * (checked at the close and at each value that joins it after); else every group flushes at its
 * period's close. A value for a closed period without a waiting group is late.
 */
export function periodModel(steps: readonly PeriodStep[], finalRule: boolean): PeriodOutcome {
  const groups = new Map<string, { key: string; period: string; ids: number[]; final: boolean }>();
  const closed = new Set<string>();
  const flushed: PeriodOutcome['flushed'] = [];
  const late: number[] = [];
  const done = (g: { final: boolean }): boolean => !finalRule || g.final;
  const flush = (gk: string): void => {
    const g = groups.get(gk)!;
    groups.delete(gk);
    flushed.push({ key: g.key, period: g.period, ids: g.ids });
  };
  for (const s of steps) {
    if (s.kind === 'close') {
      closed.add(s.p);
      for (const [gk, g] of [...groups]) if (g.period === s.p && done(g)) flush(gk);
      continue;
    }
    const gk = `${s.k}|${s.p}`;
    const g = groups.get(gk);
    if (closed.has(s.p) && g === undefined) {
      late.push(s.id);
      continue;
    }
    const next = g ?? { key: s.k, period: s.p, ids: [], final: false };
    next.ids.push(s.id);
    next.final ||= s.final;
    groups.set(gk, next);
    if (closed.has(s.p) && done(next)) flush(gk);
  }
  let open = 0;
  let waiting = 0;
  for (const g of groups.values()) {
    if (closed.has(g.period)) waiting += 1;
    else open += 1;
  }
  return { flushed, late, open, waiting };
}
