import type { Settlement } from '../../src/settle/settlement.js';

/** One open window of `window`: `[start, end)`, its key, and what it accumulated. */
export interface OpenWindow<A> {
  readonly key: string | undefined;
  start: number;
  end: number;
  count: number;
  acc: A;
  /** One hold per event added, on the event's input: released when the window settles. */
  held: Settlement[];
}

/**
 * The open windows of one `window` subscription, by key then start (nested maps: no string key
 * built per event), with a lower bound on the earliest end so that the per-event "anything due?"
 * check is O(1) until something is due.
 */
export class WindowStore<A> {
  private readonly byKey = new Map<string | undefined, Map<number, OpenWindow<A>>>();
  private open = 0;
  private minEnd = Infinity;

  get size(): number {
    return this.open;
  }

  get(key: string | undefined, start: number): OpenWindow<A> | undefined {
    return this.byKey.get(key)?.get(start);
  }

  add(w: OpenWindow<A>): OpenWindow<A> {
    let starts = this.byKey.get(w.key);
    if (starts === undefined) this.byKey.set(w.key, (starts = new Map<number, OpenWindow<A>>()));
    starts.set(w.start, w);
    this.open++;
    if (w.end < this.minEnd) this.minEnd = w.end;
    return w;
  }

  remove(w: OpenWindow<A>): void {
    const starts = this.byKey.get(w.key);
    if (starts?.get(w.start) !== w) return;
    starts.delete(w.start);
    this.open--;
    if (starts.size === 0) this.byKey.delete(w.key);
  }

  /** Moves a (session) window to new bounds, keeping the index right. */
  reshape(w: OpenWindow<A>, start: number, end: number): OpenWindow<A> {
    if (w.start !== start) {
      this.remove(w);
      w.start = start;
      w.end = end;
      return this.add(w);
    }
    w.end = end;
    return w;
  }

  /** Sessions of `key` that overlap `[from, to)`, by start. */
  sessionsOverlapping(key: string | undefined, from: number, to: number): OpenWindow<A>[] {
    const out: OpenWindow<A>[] = [];
    for (const w of this.byKey.get(key)?.values() ?? []) if (w.start < to && from < w.end) out.push(w);
    return out.sort((a, b) => a.start - b.start);
  }

  /** Every open window (for failing what they hold when the operator stops). */
  *all(): IterableIterator<OpenWindow<A>> {
    for (const starts of this.byKey.values()) yield* starts.values();
  }

  /** Removes and returns the windows with `end <= limit`, ordered by end, start, key. */
  takeClosed(limit: number): OpenWindow<A>[] {
    if (limit < this.minEnd) return [];
    const due: OpenWindow<A>[] = [];
    let minEnd = Infinity;
    for (const starts of this.byKey.values()) {
      for (const w of starts.values()) {
        if (w.end <= limit) due.push(w);
        else if (w.end < minEnd) minEnd = w.end;
      }
    }
    for (const w of due) this.remove(w);
    this.minEnd = minEnd;
    return due.sort((a, b) => a.end - b.end || a.start - b.start || compareKeys(a.key, b.key));
  }
}

function compareKeys(a: string | undefined, b: string | undefined): number {
  if (a === b) return 0;
  if (a === undefined) return -1;
  if (b === undefined) return 1;
  return a < b ? -1 : 1;
}
