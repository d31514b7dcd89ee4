import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { windowSpansOf } from '../../../operators/internal/window-spans.js';

describe('windowSpansOf', () => {
  it('tumbling: the one window holding t; sliding: every window covering t, oldest first; calendar: the period', () => {
    expect(windowSpansOf({ kind: 'tumbling', sizeMs: 10, slideMs: 10, offsetMs: 0 }, 15)).toEqual([{ start: 10, end: 20 }]);
    expect(windowSpansOf({ kind: 'sliding', sizeMs: 10, slideMs: 5, offsetMs: 0 }, 12)).toEqual([
      { start: 5, end: 15 },
      { start: 10, end: 20 },
    ]);
    expect(windowSpansOf({ kind: 'tumbling', sizeMs: 10, slideMs: 10, offsetMs: 3 }, 2)).toEqual([{ start: -7, end: 3 }]);
    expect(windowSpansOf({ kind: 'calendar', calendar: { unit: 'day', timeZone: 'Europe/London' } }, Date.parse('2026-07-01T23:30:00Z'))).toEqual([
      { start: Date.parse('2026-07-01T23:00:00Z'), end: Date.parse('2026-07-02T23:00:00Z') },
    ]);
  });

  it('property: every span holds t, spans start slideMs apart, and there are sizeMs / slideMs of them', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: -50, max: 50 }),
        fc.integer({ min: -1000, max: 1000 }),
        (slideMs, k, offsetMs, t) => {
          const sizeMs = slideMs * k;
          const spans = windowSpansOf({ kind: 'sliding', sizeMs, slideMs, offsetMs }, t);
          expect(spans).toHaveLength(k);
          for (const [i, s] of spans.entries()) {
            expect(s.start <= t && t < s.end && s.end - s.start === sizeMs).toBe(true);
            expect((((s.start - offsetMs) % slideMs) + slideMs) % slideMs).toBe(0);
            if (i > 0) expect(s.start - spans[i - 1]!.start).toBe(slideMs);
          }
        },
      ),
      { numRuns: Number(process.env.PROP_RUNS ?? 200) },
    );
  });
});
