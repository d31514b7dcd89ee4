import { map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { makeEnvelope } from '../../src/envelope/make-envelope.js';
import { InvalidConfigError } from '../../src/errors.js';
import { batchUntil } from '../../operators/batch-until.js';
import { onWatermark } from '../../operators/on-watermark.js';

const ts = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const H = 3600_000;
const at = (id: string, eventTime: number) => makeEnvelope({ subject: 'e', data: id, id, eventTime });

describe('onWatermark', () => {
  it('flushes before the value whose watermark passes the period boundary', () =>
    ts().run(({ cold, expectObservable }) => {
      const values = { a: at('a', 10 * H), b: at('b', 24 * H + 30 * 60_000), c: at('c', 23 * H), d: at('d', 25 * H), e: at('e', 26 * H) };
      const op = batchUntil<typeof values.a>(onWatermark({ boundary: '0 0 * * *', tz: 'UTC', maxOutOfOrderMs: H }), { name: 'day' });
      // b (00:30 next day) leaves the watermark at 23:30: c (late evening) still joins day 1.
      // d (01:00) moves it to 00:00 → day 1 closes before d is appended.
      expectObservable(
        cold('abcde|', values).pipe(
          op,
          map(
            (b) =>
              `${b.reason}:${b
                .items()
                .map((e) => e.data)
                .join('')}`,
          ),
        ),
      ).toBe('---x-(y|)', { x: 'period-closed:abc', y: 'complete:de' });
    }));

  it('fires once when the watermark jumps over several boundaries', () =>
    ts().run(({ cold, expectObservable }) => {
      const values = { a: at('a', 0), b: at('b', 5 * H), c: at('c', 5 * H + 1) };
      const op = batchUntil<typeof values.a>(onWatermark({ boundary: '0 * * * *', tz: 'UTC' }), { name: 'hour' });
      expectObservable(
        cold('abc|', values).pipe(
          op,
          map((b) =>
            b
              .items()
              .map((e) => e.data)
              .join(''),
          ),
        ),
      ).toBe('-x-(y|)', {
        x: 'a',
        y: 'bc',
      });
    }));

  it('ignores values without an event time and out-of-order values', () =>
    ts().run(({ cold, expectObservable }) => {
      const values = { a: at('a', 2 * H), b: { eventTime: Number.NaN, data: 'b' }, c: at('c', H), d: at('d', 3 * H) };
      const op = batchUntil<{ eventTime: number; data: string }>(onWatermark({ boundary: '0 * * * *', tz: 'UTC' }), { name: 'h' });
      expectObservable(
        cold('abcd|', values).pipe(
          op,
          map((b) =>
            b
              .items()
              .map((e) => e.data)
              .join(''),
          ),
        ),
      ).toBe('---x(y|)', {
        x: 'abc',
        y: 'd',
      });
    }));

  it('rejects bad config at creation', () => {
    expect(() => onWatermark({ boundary: 'x' })).toThrow(InvalidConfigError);
    expect(() => onWatermark({ boundary: '0 0 * * *', maxOutOfOrderMs: -1 })).toThrow(/maxOutOfOrderMs/);
  });
});
