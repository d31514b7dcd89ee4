import { describe, expect, it } from 'vitest';
import { ActorCache } from '../../../src/actors/actor-cache.js';

describe('ActorCache', () => {
  it('evicts the least recently used key beyond maxKeys', () => {
    const cache = new ActorCache<number>(2, 1000, () => 0);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.get('a');
    cache.set('c', 3);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(1);
    expect(cache.size).toBe(2);
    expect(cache.evictions).toBe(1);
  });

  it('sweep evicts keys unused for idleMs, oldest first, and stops at the first recent one', () => {
    let now = 0;
    const cache = new ActorCache<number>(10, 100, () => now);
    cache.set('a', 1);
    now = 50;
    cache.set('b', 2);
    now = 99;
    expect(cache.sweep()).toBe(0);
    now = 100;
    expect(cache.sweep()).toBe(1);
    cache.get('b');
    now = 150;
    expect(cache.sweep()).toBe(0);
    now = 1000;
    expect(cache.sweep()).toBe(1);
    expect(cache.size).toBe(0);
  });
});
