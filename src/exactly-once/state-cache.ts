import { NOT_WRITTEN } from './batch-txn.js';

/**
 * A bounded map of committed state values by namespace and key, for the engine's reads; evicts the
 * oldest insertions first (cheaper than true LRU, and good enough for hot keys). `get` returns
 * {@link NOT_WRITTEN} on a miss, so a cached "absent" (undefined) is a hit.
 */
export class StateCache {
  private readonly byNs = new Map<string, Map<string, unknown>>();
  private readonly order: [string, string][] = [];
  private head = 0;
  private size = 0;

  constructor(private readonly max: number) {}

  get(namespace: string, key: string): unknown {
    const m = this.byNs.get(namespace);
    if (m === undefined || !m.has(key)) return NOT_WRITTEN;
    return m.get(key);
  }

  set(namespace: string, key: string, value: unknown): void {
    if (this.max === 0) return;
    let m = this.byNs.get(namespace);
    if (m === undefined) this.byNs.set(namespace, (m = new Map<string, unknown>()));
    if (!m.has(key)) {
      this.order.push([namespace, key]);
      this.size += 1;
      while (this.size > this.max) this.evictOne();
    }
    m.set(key, value);
  }

  private evictOne(): void {
    const [namespace, key] = this.order[this.head]!;
    this.head += 1;
    this.byNs.get(namespace)?.delete(key);
    this.size -= 1;
    if (this.head > 4096 && this.head * 2 > this.order.length) {
      this.order.splice(0, this.head);
      this.head = 0;
    }
  }
}
