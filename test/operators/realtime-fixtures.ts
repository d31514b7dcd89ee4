import { EMPTY, NEVER, Observable, throwError, type OperatorFunction } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { expect, it } from 'vitest';
import type { Envelope } from '../../src/envelope/envelope.js';
import { makeEnvelope } from '../../src/envelope/make-envelope.js';

/** A TestScheduler that compares with vitest's deep equality. */
export const testScheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

/** An envelope with a fixed id and event time, so expectations can be written out. */
export function env<T>(subject: string, data: T, id = `${subject}#${JSON.stringify(data)}`): Envelope<T> {
  return makeEnvelope({ subject, data, id, eventTime: 0 });
}

/**
 * A synchronous source that emits `make(0)`, `make(1)`, ... until its subscriber is closed, and
 * counts what it made: an operator that does not unsubscribe upstream when its output is done
 * never returns from it.
 */
export function endlessSource<T>(make: (i: number) => T): { source: Observable<T>; produced: () => number } {
  let produced = 0;
  const source = new Observable<T>((s) => {
    for (let i = 0; !s.closed; i++) {
      produced += 1;
      s.next(make(i));
    }
  });
  return { source, produced: () => produced };
}

/**
 * The three source cases every operator's checklist starts with: a silent never-ending source
 * gives nothing, an empty one completes, an error passes on unchanged.
 */
export function itKeepsTheSourceContract(op: () => OperatorFunction<never, unknown>): void {
  it('never emits for a never-ending silent source', () => testScheduler().run(({ expectObservable }) => expectObservable(NEVER.pipe(op())).toBe('-')));

  it('completes for an empty source', () => testScheduler().run(({ expectObservable }) => expectObservable(EMPTY.pipe(op())).toBe('|')));

  it('passes a source error on', () =>
    testScheduler().run(({ expectObservable }) => expectObservable(throwError(() => 'boom').pipe(op())).toBe('#', undefined, 'boom')));
}
