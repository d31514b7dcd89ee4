/**
 * A first-in first-out buffer whose removals from the front are O(1) amortised: taken slots are
 * cleared (so the values can be collected) and the array is cut once they are most of it, instead
 * of `Array.shift` moving every element each time.
 */
export class FifoBuffer<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  /** Values not yet taken. */
  get size(): number {
    return this.items.length - this.head;
  }

  push(value: T): void {
    this.items.push(value);
  }

  /** The oldest value, left in place; undefined when empty. */
  peek(): T | undefined {
    return this.items[this.head];
  }

  /** Removes and returns the oldest value; undefined when empty. */
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const value = this.items[this.head];
    this.items[this.head++] = undefined;
    this.compact();
    return value;
  }

  /** Removes and returns up to `max` of the oldest values, oldest first. */
  take(max: number): T[] {
    const n = Math.min(max, this.size);
    const out = this.items.slice(this.head, this.head + n) as T[];
    this.items.fill(undefined, this.head, this.head + n);
    this.head += n;
    this.compact();
    return out;
  }

  private compact(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
