import { map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { anyOf } from '../../operators/any-of.js';
import { batchUntil } from '../../operators/batch-until.js';
import { onCount } from '../../operators/on-count.js';
import { onIdle } from '../../operators/on-idle.js';

const ts = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('onIdle', () => {
  it('fires idleMs after the last value, restarting on each value', () =>
    ts().run(({ cold, expectObservable }) => {
      const op = batchUntil<string>(onIdle(5), { name: 'i' });
      expectObservable(
        cold('a-b---- 10ms c 10ms |').pipe(
          op,
          map((b) => b.items().join('')),
        ),
      ).toBe('-------x 14ms y 5ms |', {
        x: 'ab',
        y: 'c',
      });
    }));

  it('does not fire after another trigger flushed the batch', () =>
    ts().run(({ cold, expectObservable }) => {
      const op = batchUntil<string>(anyOf(onCount(2), onIdle(5)), { name: 'i' });
      expectObservable(
        cold('ab 20ms |').pipe(
          op,
          map((b) => b.reason),
        ),
      ).toBe('-x 20ms |', { x: 'count' });
    }));

  it('rejects a negative delay', () => expect(() => onIdle(-1)).toThrow(/idleMs/));
});
