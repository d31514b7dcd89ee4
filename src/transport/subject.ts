import { InvalidSubjectError } from '../errors.js';

/**
 * Checks a subject or subscription pattern: non-empty dot-separated tokens, no whitespace,
 * `>` only as the last token, and (for publish subjects) no wildcards at all.
 *
 * @throws InvalidSubjectError naming the subject and what is wrong.
 */
export function validateSubject(subject: string, { wildcards }: { wildcards: boolean }): void {
  if (subject.length === 0) throw new InvalidSubjectError(subject, 'is empty');
  if (/\s/.test(subject)) throw new InvalidSubjectError(subject, 'contains whitespace');
  // A char-code walk instead of split('.'): this runs on every publish, and must not allocate.
  let start = 0;
  let index = 0;
  for (let i = 0; i <= subject.length; i++) {
    if (i < subject.length && subject.charCodeAt(i) !== DOT) continue;
    if (i === start) throw new InvalidSubjectError(subject, `token ${index + 1} is empty`);
    if (i - start === 1) {
      const c = subject.charCodeAt(start);
      if (c === STAR || c === GT) {
        if (!wildcards) throw new InvalidSubjectError(subject, 'wildcards are not allowed when publishing');
        if (c === GT && i !== subject.length) throw new InvalidSubjectError(subject, "'>' must be the last token");
      }
    }
    start = i + 1;
    index++;
  }
}

/** Whether a (valid) subject has a `*` or `>` token: a subscription to one without receives on exactly that subject. */
export function hasWildcard(subject: string): boolean {
  for (let start = 0; start <= subject.length;) {
    let end = subject.indexOf('.', start);
    if (end === -1) end = subject.length;
    if (end - start === 1) {
      const c = subject.charCodeAt(start);
      if (c === STAR || c === GT) return true;
    }
    start = end + 1;
  }
  return false;
}

const DOT = 46;
const STAR = 42;
const GT = 62;

/**
 * Whether `subject` matches the NATS `pattern`: `*` matches exactly one token, `>` one or more
 * trailing tokens, anything else must be equal.
 */
export function subjectMatches(pattern: string, subject: string): boolean {
  if (pattern === subject) return true;
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    const token = p[i];
    if (token === '>') return s.length > i;
    if (i >= s.length) return false;
    if (token !== '*' && token !== s[i]) return false;
  }
  return p.length === s.length;
}

/**
 * Whether some subject matches both patterns. NATS refuses two streams whose subjects overlap,
 * because a message could then be stored twice; the local transport enforces the same rule.
 */
export function subjectsOverlap(a: string, b: string): boolean {
  const p = a.split('.');
  const q = b.split('.');
  for (let i = 0; ; i++) {
    const x = p[i];
    const y = q[i];
    if (x === undefined || y === undefined) return x === y;
    if (x === '>') return true;
    if (y === '>') return true;
    if (x !== '*' && y !== '*' && x !== y) return false;
  }
}
