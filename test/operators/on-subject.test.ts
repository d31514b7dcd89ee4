import { map, Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { makeEnvelope } from '../../src/envelope/make-envelope.js';
import { batchUntil } from '../../operators/batch-until.js';
import { onSubject } from '../../operators/on-subject.js';

const ts = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const eod = makeEnvelope({ subject: 'ops.end-of-day', data: null, id: 'e' });

describe('onSubject', () => {
  it('fires on each event, with the event subject as reason by default', () =>
    ts().run(({ cold, hot, expectObservable }) => {
      const op = batchUntil<string>(onSubject(hot('--e', { e: eod })), { name: 's' });
      expectObservable(cold('ab-c|').pipe(op, map((b) => `${b.reason}:${b.items().join('')}`))).toBe('--x-(y|)', {
        x: 'ops.end-of-day:ab',
        y: 'complete:c',
      });
    }));

  it('subscribes to the events only while the batch operator is subscribed', () => {
    const events = new Subject<typeof eod>();
    const sub = new Subject<string>().pipe(batchUntil(onSubject(events), { name: 's' })).subscribe();
    expect(events.observed).toBe(true);
    sub.unsubscribe();
    expect(events.observed).toBe(false);
  });

  it('rejects a non-observable', () => expect(() => onSubject(undefined as never)).toThrow(/events\$/));
});
