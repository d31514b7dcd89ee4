import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidSubjectError } from '../../../src/errors.js';
import { subjectMatches, validateSubject } from '../../../src/transport/subject.js';
import { compileSubjectPattern, isPublishableSubject } from '../../../operators/internal/subject-matcher.js';

const token = fc.constantFrom('a', 'b', 'ab', 'orders', 'x1', 'a+', '$x', '(c)', 'a|b', '^');
const subject = fc.array(token, { minLength: 1, maxLength: 5 }).map((t) => t.join('.'));
const pattern = fc
  .tuple(fc.array(fc.oneof(token, fc.constant('*')), { minLength: 1, maxLength: 5 }), fc.boolean())
  .map(([t, tail]) => (tail ? [...t, '>'] : t).join('.'));
const runs = { numRuns: Number(process.env.PROP_RUNS ?? 500) };

describe('compileSubjectPattern', () => {
  it('agrees with subjectMatches for any valid pattern and subject', () => {
    fc.assert(
      fc.property(fc.oneof(pattern, subject, fc.constant('>')), subject, (p, s) => {
        expect(compileSubjectPattern(p)(s)).toBe(subjectMatches(p, s));
      }),
      runs,
    );
  });

  it('handles the edge cases of * and >', () => {
    expect(compileSubjectPattern('a.*')('a')).toBe(false);
    expect(compileSubjectPattern('a.*')('a.b.c')).toBe(false);
    expect(compileSubjectPattern('a.>')('a')).toBe(false);
    expect(compileSubjectPattern('a.>')('a.b.c')).toBe(true);
    expect(compileSubjectPattern('*.b.>')('a.b.c.d')).toBe(true);
    expect(compileSubjectPattern('a.b')('a.bc')).toBe(false);
  });

  it('rejects a malformed pattern when compiling', () => {
    expect(() => compileSubjectPattern('a.>.b')).toThrow(InvalidSubjectError);
    expect(() => compileSubjectPattern('a..b')).toThrow(InvalidSubjectError);
  });
});

describe('isPublishableSubject', () => {
  it('agrees with validateSubject (no wildcards) on ASCII strings', () => {
    const chars = fc.constantFrom('a', 'b', '.', '*', '>', ' ', '\t', 'z');
    fc.assert(
      fc.property(
        fc.array(chars, { maxLength: 8 }).map((c) => c.join('')),
        (s) => {
          let valid = true;
          try {
            validateSubject(s, { wildcards: false });
          } catch {
            valid = false;
          }
          expect(isPublishableSubject(s)).toBe(valid);
        },
      ),
      runs,
    );
  });
});
