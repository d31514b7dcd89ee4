import { describe, expect, it } from 'vitest';
import { actor } from '../../../src/actors/actor.js';
import { InvalidConfigError } from '../../../src/errors.js';

const base = { name: 'stock', key: () => 'k', initial: () => 0, handle: (s: number) => s };

describe('actor', () => {
  it('fills defaults: retry 3 times from 100 ms, 10000 keys, 5 minutes idle, msgpack', () => {
    const def = actor(base);
    expect(def.supervision).toEqual({
      mode: 'retry',
      maxAttempts: 3,
      initialDelayMs: 100,
      maxDelayMs: 5000,
      multiplier: 2,
      jitter: 'none',
      onExhausted: 'skip',
    });
    expect(def.maxKeysInMemory).toBe(10_000);
    expect(def.passivateAfterMs).toBe(300_000);
    expect(def.codec.contentType).toBe('application/msgpack');
  });

  it("'skip' ('resume', the word pipelines and operators use) and 'stop-key' run the behaviour once", () => {
    expect(actor({ ...base, supervision: 'skip' }).supervision).toMatchObject({ mode: 'skip', maxAttempts: 1 });
    expect(actor({ ...base, supervision: 'resume' }).supervision).toMatchObject({ mode: 'skip', maxAttempts: 1 });
    expect(actor({ ...base, supervision: 'stop-key' }).supervision).toMatchObject({ mode: 'stop-key', maxAttempts: 1 });
  });

  it.each([
    [{ name: 'a.b' }, "actor(\"a.b\"): 'name' must be letters, digits, '-' or '_', got \"a.b\""],
    [{ name: '' }, "'name'"],
    [{ handle: 3 }, "'handle' must be a function, got number"],
    [{ maxKeysInMemory: 0 }, "'maxKeysInMemory' must be an integer >= 1, got 0"],
    [{ passivateAfterMs: -1 }, "'passivateAfterMs' must be > 0, got -1"],
    [{ supervision: 'restart' }, "'supervision' must be"],
    [{ supervision: { mode: 'retry', maxAttempts: 0 } }, "'supervision.maxAttempts' must be an integer >= 1, got 0"],
    [{ supervision: { mode: 'retry', initialDelayMs: 10, maxDelayMs: 5 } }, "'supervision.maxDelayMs' must be finite and >= initialDelayMs (10), got 5"],
    [{ supervision: { mode: 'retry', onExhausted: 'explode' } }, "'supervision.onExhausted'"],
  ])('rejects %j at creation', (patch, message) => {
    const make = () => actor({ ...base, ...(patch as object) });
    expect(make).toThrow(InvalidConfigError);
    expect(make).toThrow(message);
  });
});
