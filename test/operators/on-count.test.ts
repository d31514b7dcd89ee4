import { map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { batchUntil } from '../../operators/batch-until.js';
import { onCount } from '../../operators/on-count.js';

const ts = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('onCount', () => {
  it('fires right after the value that reaches the count, with its reason', () =>
    ts().run(({ cold, expectObservable }) => {
      const op = batchUntil<string>(onCount(3, { reason: 'full' }), { name: 'c' });
      expectObservable(
        cold('a-bc-d|').pipe(
          op,
          map((b) => `${b.reason}:${b.items().join('')}`),
        ),
      ).toBe('---x--(y|)', {
        x: 'full:abc',
        y: 'complete:d',
      });
    }));

  it('rejects a count below 1 or fractional', () => {
    expect(() => onCount(0)).toThrow(/'count'/);
    expect(() => onCount(2.5)).toThrow(/'count'/);
  });
});
