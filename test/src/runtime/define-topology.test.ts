import { describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../../src/errors.js';
import { defineTopology, isTopology } from '../../../src/runtime/define-topology.js';

describe('defineTopology', () => {
  it('returns a frozen, recognisable topology', () => {
    const t = defineTopology('orders_v2-eu', () => undefined);
    expect(t.name).toBe('orders_v2-eu');
    expect(Object.isFrozen(t)).toBe(true);
    expect(isTopology(t)).toBe(true);
    expect(isTopology({ name: 'x', build: () => undefined })).toBe(false);
  });

  it.each(['', 'has.dot', 'has space', 'star*', 'x'.repeat(65)])('rejects the name %j: it becomes a subject token and a stream name', (name) => {
    expect(() => defineTopology(name, () => undefined)).toThrow(InvalidConfigError);
  });

  it('rejects a builder that is not a function', () => {
    expect(() => defineTopology('t', 'nope' as never)).toThrow("defineTopology: 'build' must be a function, got string");
  });
});
