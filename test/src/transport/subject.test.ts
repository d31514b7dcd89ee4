import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidSubjectError } from '../../../src/errors.js';
import { hasWildcard, subjectMatches, subjectsOverlap, validateSubject } from '../../../src/transport/subject.js';

const numRuns = Number(process.env.PROP_RUNS ?? 300);

// A small alphabet so generated patterns and subjects often match.
const literal = fc.constantFrom('a', 'b', 'c');
const subjectArb = fc.array(literal, { minLength: 1, maxLength: 5 }).map((t) => t.join('.'));
const patternArb = fc
  .tuple(fc.array(fc.constantFrom('a', 'b', 'c', '*'), { minLength: 0, maxLength: 5 }), fc.boolean())
  .filter(([tokens, tail]) => tokens.length > 0 || tail)
  .map(([tokens, tail]) => [...tokens, ...(tail ? ['>'] : [])].join('.'));

/** Reference semantics: `*` is one token, `>` one or more trailing tokens, the rest literal. */
function referenceRegex(pattern: string): RegExp {
  const parts = pattern.split('.').map((t) => (t === '*' ? '[^.]+' : t === '>' ? '.+' : t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  return new RegExp(`^${parts.join('\\.')}$`);
}

/**
 * Every subject over {a,b,c,z} with exactly `length` tokens. If two patterns overlap, a witness
 * with as many tokens as the longer pattern exists, and a fourth letter covers '*' against '*'.
 */
const subjectsOfLength = (() => {
  const byLength: string[][] = [[], ['a', 'b', 'c', 'z']];
  for (let n = 2; n <= 6; n++) byLength.push((byLength[n - 1] ?? []).flatMap((s) => ['a', 'b', 'c', 'z'].map((t) => `${s}.${t}`)));
  return (length: number): string[] => byLength[length] ?? [];
})();

describe('subjectMatches', () => {
  it('agrees with a regex reference on random patterns and subjects', () => {
    fc.assert(
      fc.property(patternArb, subjectArb, (pattern, subject) => {
        expect(subjectMatches(pattern, subject)).toBe(referenceRegex(pattern).test(subject));
      }),
      { numRuns },
    );
  });

  it('matches a subject against patterns made from it by wildcarding tokens or cutting a tail', () => {
    fc.assert(
      fc.property(subjectArb, fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }), fc.nat(5), (subject, stars, cut) => {
        const tokens = subject.split('.').map((t, i) => (stars[i] === true ? '*' : t));
        const pattern = cut > 0 && cut < tokens.length ? [...tokens.slice(0, cut), '>'].join('.') : tokens.join('.');
        expect(subjectMatches(pattern, subject)).toBe(true);
      }),
      { numRuns },
    );
  });

  it('handles the classic cases', () => {
    expect(subjectMatches('a.>', 'a')).toBe(false);
    expect(subjectMatches('>', 'a.b')).toBe(true);
    expect(subjectMatches('*', 'a.b')).toBe(false);
    expect(subjectMatches('a.*.c', 'a.b.c')).toBe(true);
    expect(subjectMatches('a.*', 'a.b.c')).toBe(false);
  });
});

describe('subjectsOverlap', () => {
  it('is true exactly when some subject matches both patterns', () => {
    fc.assert(
      fc.property(patternArb, patternArb, (a, b) => {
        const witness = subjectsOfLength(Math.max(a.split('.').length, b.split('.').length)).some((s) => subjectMatches(a, s) && subjectMatches(b, s));
        expect(subjectsOverlap(a, b)).toBe(witness);
        expect(subjectsOverlap(b, a)).toBe(witness);
      }),
      { numRuns },
    );
  });
});

/** The first, obviously correct implementation, kept as the reference for the allocation-free one. */
function referenceValidate(subject: string, wildcards: boolean): string | undefined {
  if (subject.length === 0) return 'is empty';
  if (/\s/.test(subject)) return 'contains whitespace';
  const tokens = subject.split('.');
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] ?? '';
    if (token.length === 0) return `token ${i + 1} is empty`;
    if (token === '*' || token === '>') {
      if (!wildcards) return 'wildcards are not allowed when publishing';
      if (token === '>' && i !== tokens.length - 1) return "'>' must be the last token";
    }
  }
  return undefined;
}

describe('validateSubject', () => {
  it('accepts and rejects exactly what the reference does, with the same reason', () => {
    const chars = fc.constantFrom('a', 'b', '.', '.', '*', '>', ' ', '\t', '\u00a0', '**', '>>');
    fc.assert(
      fc.property(
        fc.array(chars, { maxLength: 12 }).map((c) => c.join('')),
        fc.boolean(),
        (subject, wildcards) => {
          const expected = referenceValidate(subject, wildcards);
          let actual: string | undefined;
          try {
            validateSubject(subject, { wildcards });
          } catch (err) {
            expect(err).toBeInstanceOf(InvalidSubjectError);
            actual = (err as Error).message;
          }
          expect(actual).toBe(expected === undefined ? undefined : `invalid subject '${subject}': ${expected}`);
        },
      ),
      { numRuns: numRuns * 3 },
    );
  });

  it('accepts every generated pattern as a subscription and every generated subject for publishing', () => {
    fc.assert(
      fc.property(patternArb, subjectArb, (pattern, subject) => {
        validateSubject(pattern, { wildcards: true });
        validateSubject(subject, { wildcards: false });
      }),
      { numRuns },
    );
  });

  it.each([
    ['', true],
    ['a..b', true],
    ['.a', true],
    ['a.', true],
    ['a b', true],
    ['a.>.b', true],
    ['a.*', false],
    ['>', false],
  ])('rejects %j (wildcards allowed: %s)', (subject, wildcards) => {
    expect(() => validateSubject(subject, { wildcards })).toThrow(InvalidSubjectError);
  });
});

describe('hasWildcard', () => {
  it('finds a * or > token, and only a whole token', () => {
    for (const s of ['*', '>', 'a.*', 'a.>', '*.b', 'a.*.c']) expect(hasWildcard(s), s).toBe(true);
    for (const s of ['a', 'a.b', 'a*.b', 'a.b>', 'a.*b', 'x.>y', '']) expect(hasWildcard(s), s).toBe(false);
  });

  it('is true exactly when some token is * or >', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', 'b', '*', '>', 'a*', '>b'), { minLength: 1, maxLength: 5 }), (tokens) => {
        expect(hasWildcard(tokens.join('.'))).toBe(tokens.includes('*') || tokens.includes('>'));
      }),
    );
  });
});
