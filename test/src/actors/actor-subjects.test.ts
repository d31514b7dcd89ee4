import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_ACTOR_KEY_BYTES } from '../../../src/actors/actor-limits.js';
import { actorSubjects, keyFromToken, keyToken } from '../../../src/actors/actor-subjects.js';
import { InvalidConfigError } from '../../../src/errors.js';
import { subjectMatches, validateSubject } from '../../../src/transport/subject.js';

describe('actorSubjects', () => {
  const s = actorSubjects({ topology: 'shop', actor: 'stock' });

  it('names query, tell, timer, reset and dead-letter subjects', () => {
    expect(s.query('SKU-1')).toBe('sluice.actor.shop.stock.SKU-1');
    expect(s.tell('SKU-1')).toBe('sluice.actor.shop.stock.SKU-1.tell');
    expect(s.timer('SKU-1')).toBe('sluice.actor.shop.stock.SKU-1.timer');
    expect(s.reset('SKU-1')).toBe('sluice.actor.shop.stock.SKU-1.reset');
    expect(s.deadLetter).toBe('sluice.dlq.shop.stock');
    expect(s.streamSubjects).toEqual(['sluice.actor.shop.stock.*.tell', 'sluice.actor.shop.stock.*.timer', 'sluice.actor.shop.stock.*.reset']);
    expect(actorSubjects({ topology: 't', actor: 'a', prefix: 'acme.x' }).tell('k')).toBe('acme.x.t.a.k.tell');
  });

  it('refuses a key past MAX_ACTOR_KEY_BYTES: no actor has one, and its subjects would pass NATS limits', () => {
    expect(keyToken('k'.repeat(MAX_ACTOR_KEY_BYTES))).toHaveLength(MAX_ACTOR_KEY_BYTES);
    expect(() => s.tell('k'.repeat(MAX_ACTOR_KEY_BYTES + 1))).toThrow(/is 1025 bytes, longer than the 1024 bytes an actor key may be/);
  });

  it('parses its own stream subjects and nothing else', () => {
    expect(s.parse('sluice.actor.shop.stock.SKU-1.tell')).toEqual({ key: 'SKU-1', kind: 'tell' });
    expect(s.parse('sluice.actor.shop.stock.SKU-1')).toBeUndefined();
    expect(s.parse('sluice.actor.shop.stock.SKU-1.other')).toBeUndefined();
    expect(s.parse('sluice.actor.shop.stockx.SKU-1.tell')).toBeUndefined();
    expect(s.parse('shop.orders.placed')).toBeUndefined();
  });

  it('any key becomes one valid subject token that round-trips and is matched by the stream patterns', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, unit: 'binary' }), (key) => {
        const token = keyToken(key);
        expect(token).not.toMatch(/[.\s*>]/);
        expect(keyFromToken(token)).toBe(key);
        for (const subject of [s.tell(key), s.timer(key), s.reset(key)]) {
          validateSubject(subject, { wildcards: false });
          expect(s.streamSubjects.some((p) => subjectMatches(p, subject))).toBe(true);
          expect(s.parse(subject)?.key).toBe(key);
        }
        expect(subjectMatches(s.queryPattern, s.query(key))).toBe(true);
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 200) },
    );
  });

  it('rejects names that are not subject tokens', () => {
    expect(() => actorSubjects({ topology: 'a.b', actor: 'x' })).toThrow(InvalidConfigError);
    expect(() => actorSubjects({ topology: 'a', actor: 'x', prefix: 'bad..prefix' })).toThrow("'prefix'");
  });
});
