import { map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { makeEnvelope } from '../../src/envelope/make-envelope.js';
import { InvalidConfigError } from '../../src/errors.js';
import { anyOf } from '../../operators/any-of.js';
import { batchUntil } from '../../operators/batch-until.js';
import { onCount } from '../../operators/on-count.js';
import { onSubject } from '../../operators/on-subject.js';

const ts = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('anyOf', () => {
  it('fires whenever any trigger fires, with that trigger’s reason', () =>
    ts().run(({ cold, hot, expectObservable }) => {
      const events = hot('----e', { e: makeEnvelope({ subject: 'ops.eod', data: null, id: 'x' }) });
      const op = batchUntil<string>(anyOf(onCount(2), onSubject(events, { reason: 'eod' })), { name: 'a' });
      expectObservable(
        cold('ab-c--|').pipe(
          op,
          map((b) => `${b.reason}:${b.items().join('')}`),
        ),
      ).toBe('-x--y-|', {
        x: 'count:ab',
        y: 'eod:c',
      });
    }));

  it('an error of any trigger errors the batch operator', () =>
    ts().run(({ cold, expectObservable }) => {
      expectObservable(
        cold('a---').pipe(
          batchUntil(
            anyOf(onCount(5), () => cold('--#')),
            { name: 'a' },
          ),
        ),
      ).toBe('--#');
    }));

  it('needs at least one trigger', () => {
    expect(() => anyOf()).toThrow(InvalidConfigError);
    expect(() => anyOf(onCount(1), 3 as never)).toThrow(/triggers\[1\]/);
  });
});
