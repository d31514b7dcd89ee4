import type { ExactlyOnceTxn } from './types.js';

/** One open window of one key, as stored. */
export interface StoredWindow<A> {
  readonly start: number;
  readonly end: number;
  readonly count: number;
  readonly acc: A;
}

/** The window's clock and size, as stored. */
export interface WindowMeta {
  /** Newest event time seen (moved on by idle ticks and closes); null before any. */
  readonly maxEventTime: number | null;
  /** Open windows over all keys. */
  readonly open: number;
}

/**
 * The LMDB layout of a durable window, read and written through the engine's transaction, with
 * the batch's changes kept in memory until `save`:
 *
 * - `meta` → {@link WindowMeta}
 * - `k.<key>` → the key's open windows, by start
 * - `ends` → the distinct ends of open windows, ascending: closing reads from the front
 * - `e.<end>` → the keys with a window ending at `end` (a key has at most one window per end)
 *
 * Stored values are never changed in place (the engine's cache shares them): every change writes
 * a new array or object.
 */
export class DurableWindowState<A> {
  private readonly windows = new Map<string, readonly StoredWindow<A>[]>();
  private readonly byEnd = new Map<number, readonly string[]>();
  /** Ends whose key list was copied in this batch, so it may be changed in place. */
  private readonly ownedEnds = new Set<number>();
  private endList: number[] | undefined;
  private metaValue: WindowMeta | undefined;

  constructor(
    private readonly txn: ExactlyOnceTxn,
    private readonly ns: string,
  ) {}

  get meta(): WindowMeta {
    return (this.metaValue ??= this.txn.get<WindowMeta>(this.ns, 'meta') ?? { maxEventTime: null, open: 0 });
  }

  set meta(value: WindowMeta) {
    this.metaValue = value;
  }

  windowsOf(key: string): readonly StoredWindow<A>[] {
    let w = this.windows.get(key);
    if (w === undefined) this.windows.set(key, (w = this.txn.get<StoredWindow<A>[]>(this.ns, `k.${key}`) ?? []));
    return w;
  }

  /** Replaces the key's windows, keeping the end index and the open count in step. */
  setWindows(key: string, next: readonly StoredWindow<A>[]): void {
    const before = this.windowsOf(key);
    const oldEnds = new Set(before.map((w) => w.end));
    const newEnds = new Set(next.map((w) => w.end));
    for (const end of oldEnds) if (!newEnds.has(end)) this.unindex(end, key);
    for (const end of newEnds) if (!oldEnds.has(end)) this.index(end, key);
    this.windows.set(
      key,
      [...next].sort((a, b) => a.start - b.start),
    );
    this.meta = { ...this.meta, open: this.meta.open + next.length - before.length };
  }

  /** Ends of open windows, ascending. */
  ends(): readonly number[] {
    return (this.endList ??= [...(this.txn.get<number[]>(this.ns, 'ends') ?? [])]);
  }

  /** Drops the first end from the index (it has no window left). */
  dropFirstEnd(): void {
    (this.ends() as number[]).shift();
  }

  keysEndingAt(end: number): readonly string[] {
    let keys = this.byEnd.get(end);
    if (keys === undefined) this.byEnd.set(end, (keys = this.txn.get<string[]>(this.ns, `e.${end}`) ?? []));
    return keys;
  }

  /** Writes what the batch changed. */
  save(): void {
    if (this.metaValue !== undefined) this.txn.put(this.ns, 'meta', this.metaValue);
    for (const [key, w] of this.windows) {
      if (w.length > 0) this.txn.put(this.ns, `k.${key}`, w);
      else this.txn.delete(this.ns, `k.${key}`);
    }
    for (const [end, keys] of this.byEnd) {
      if (keys.length > 0) this.txn.put(this.ns, `e.${end}`, keys);
      else this.txn.delete(this.ns, `e.${end}`);
    }
    if (this.endList !== undefined) this.txn.put(this.ns, 'ends', this.endList);
  }

  private index(end: number, key: string): void {
    const keys = this.keysEndingAt(end);
    if (keys.length === 0) {
      const ends = this.ends() as number[];
      let i = ends.length;
      while (i > 0 && ends[i - 1]! > end) i--;
      ends.splice(i, 0, end);
    }
    this.owned(end).push(key);
  }

  private owned(end: number): string[] {
    if (!this.ownedEnds.has(end)) {
      this.byEnd.set(end, [...this.keysEndingAt(end)]);
      this.ownedEnds.add(end);
    }
    return this.byEnd.get(end) as string[];
  }

  private unindex(end: number, key: string): void {
    const keys = this.owned(end);
    const at = keys.indexOf(key);
    if (at >= 0) keys.splice(at, 1);
    if (keys.length === 0) {
      const ends = this.ends() as number[];
      const i = ends.indexOf(end);
      if (i >= 0) ends.splice(i, 1);
    }
  }
}
