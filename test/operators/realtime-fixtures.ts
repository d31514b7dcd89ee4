import { TestScheduler } from 'rxjs/testing';
import { expect } from 'vitest';
import type { Envelope } from '../../src/envelope/envelope.js';
import { makeEnvelope } from '../../src/envelope/make-envelope.js';

/** A TestScheduler that compares with vitest's deep equality. */
export const testScheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

/** An envelope with a fixed id and event time, so expectations can be written out. */
export function env<T>(subject: string, data: T, id = `${subject}#${JSON.stringify(data)}`): Envelope<T> {
  return makeEnvelope({ subject, data, id, eventTime: 0 });
}
