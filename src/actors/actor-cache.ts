/**
 * The in-memory side of passivation: at most `maxKeys` entries, least recently used evicted
 * first, and entries unused for `idleMs` evicted by `sweep()`. Evicting loses nothing — the
 * state is in LMDB — so a million keys cost a million LMDB records, not a million live objects.
 *
 * A `Map` keeps insertion order, and every use re-inserts its key, so the map's order is the
 * recency order: eviction and sweeping only ever look at the front.
 */
export class ActorCache<V> {
  private readonly entries = new Map<string, { value: V; usedAt: number }>();
  private evictedCount = 0;

  constructor(
    private readonly maxKeys: number,
    private readonly idleMs: number,
    private readonly now: () => number,
  ) {}

  /** Number of keys in memory. */
  get size(): number {
    return this.entries.size;
  }

  /** Keys evicted so far (LRU or idle). */
  get evictions(): number {
    return this.evictedCount;
  }

  /** The cached value, marking the key used. */
  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    entry.usedAt = this.now();
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, { value, usedAt: this.now() });
    while (this.entries.size > this.maxKeys) this.evictOldest();
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  /** Evicts every entry idle for `idleMs` or more; returns how many. */
  sweep(): number {
    const cutoff = this.now() - this.idleMs;
    let n = 0;
    for (const [key, entry] of this.entries) {
      if (entry.usedAt > cutoff) break;
      this.entries.delete(key);
      n += 1;
    }
    this.evictedCount += n;
    return n;
  }

  private evictOldest(): void {
    const oldest = this.entries.keys().next();
    if (oldest.done === true) return;
    this.entries.delete(oldest.value);
    this.evictedCount += 1;
  }
}
