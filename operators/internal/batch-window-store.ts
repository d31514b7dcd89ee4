/** One open window of `window`: `[start, end)`, its key, and what it accumulated. */
export interface OpenWindow<A> {
  readonly key: string | undefined;
  start: number;
  end: number;
  count: number;
  acc: A;
}

/**
 * The open windows of one `window` subscription, indexed by key and start, with a lower bound on
 * the earliest end so that the per-event "anything due?" check is O(1) until something is due.
 */
export class WindowStore<A> {
  private readonly byId = new Map<string, OpenWindow<A>>();
  private readonly byKey = new Map<string | undefined, Set<OpenWindow<A>>>();
  private minEnd = Infinity;

  get size(): number {
    return this.byId.size;
  }

  get(key: string | undefined, start: number): OpenWindow<A> | undefined {
    return this.byId.get(id(key, start));
  }

  add(w: OpenWindow<A>): OpenWindow<A> {
    this.byId.set(id(w.key, w.start), w);
    let set = this.byKey.get(w.key);
    if (set === undefined) this.byKey.set(w.key, (set = new Set()));
    set.add(w);
    if (w.end < this.minEnd) this.minEnd = w.end;
    return w;
  }

  remove(w: OpenWindow<A>): void {
    this.byId.delete(id(w.key, w.start));
    const set = this.byKey.get(w.key);
    set?.delete(w);
    if (set?.size === 0) this.byKey.delete(w.key);
  }

  /** Moves a (session) window to new bounds, keeping the index right. */
  reshape(w: OpenWindow<A>, start: number, end: number): OpenWindow<A> {
    if (w.start !== start) {
      this.byId.delete(id(w.key, w.start));
      w.start = start;
      this.byId.set(id(w.key, w.start), w);
    }
    w.end = end;
    return w;
  }

  /** Sessions of `key` that overlap or touch `[from, to)`, by start. */
  sessionsOverlapping(key: string | undefined, from: number, to: number): OpenWindow<A>[] {
    const out: OpenWindow<A>[] = [];
    for (const w of this.byKey.get(key) ?? []) if (w.start < to && from < w.end) out.push(w);
    return out.sort((a, b) => a.start - b.start);
  }

  /** Removes and returns the windows with `end <= limit`, ordered by end, start, key. */
  takeClosed(limit: number): OpenWindow<A>[] {
    if (limit < this.minEnd) return [];
    const due: OpenWindow<A>[] = [];
    let minEnd = Infinity;
    for (const w of this.byId.values()) {
      if (w.end <= limit) due.push(w);
      else if (w.end < minEnd) minEnd = w.end;
    }
    for (const w of due) this.remove(w);
    this.minEnd = minEnd;
    return due.sort((a, b) => a.end - b.end || a.start - b.start || compareKeys(a.key, b.key));
  }
}

function id(key: string | undefined, start: number): string {
  return key === undefined ? `\u0001${start}` : `${key}\u0000${start}`;
}

function compareKeys(a: string | undefined, b: string | undefined): number {
  if (a === b) return 0;
  if (a === undefined) return -1;
  if (b === undefined) return 1;
  return a < b ? -1 : 1;
}
