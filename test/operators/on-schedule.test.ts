import { asyncScheduler, map, NEVER, Subject, take } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../src/errors.js';
import { batchUntil, type TriggerContext } from '../../operators/batch-until.js';
import { onSchedule } from '../../operators/on-schedule.js';

const ts = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

/** Fire times of a trigger in virtual time (epoch 0 = 1970-01-01T00:00Z). */
function fireTimes(trigger: ReturnType<typeof onSchedule>, n: number): number[] {
  const scheduler = new TestScheduler(() => undefined);
  const times: number[] = [];
  scheduler.run(() => {
    const ctx: TriggerContext<unknown> = { arriving: NEVER, appended: NEVER, flushed: new Subject<void>(), scheduler };
    trigger(ctx).pipe(take(n)).subscribe(() => times.push(scheduler.now()));
  });
  return times;
}

describe('onSchedule', () => {
  it('flushes the batch at each cron fire time, in virtual time', () =>
    ts().run(({ cold, expectObservable }) => {
      const op = batchUntil<string>(onSchedule('* * * * *', { tz: 'UTC' }), { name: 'minute' });
      expectObservable(cold('a 29999ms b 60s |').pipe(op, map((b) => `${b.reason}:${b.items().join('')}`))).toBe('60s x 30000ms |', {
        x: 'schedule:ab',
      });
    }));

  it('reads the pattern in the given time zone', () => {
    // 02:00 in New York on 1970-01-01 is 07:00 UTC (EST, UTC-5).
    expect(fireTimes(onSchedule('0 2 * * *', { tz: 'America/New_York' }), 2)).toEqual([7 * 3600_000, 31 * 3600_000]);
  });

  it('waits past the 2^31 ms timer limit in steps (yearly pattern)', () => {
    expect(fireTimes(onSchedule('0 0 1 1 *', { tz: 'UTC' }), 2)).toEqual([Date.UTC(1971, 0, 1), Date.UTC(1972, 0, 1)]);
  });

  it('uses its own scheduler when given one', () => {
    const scheduler = new TestScheduler(() => undefined);
    const times: number[] = [];
    scheduler.run(() => {
      const trigger = onSchedule('*/10 * * * * *', { tz: 'UTC', scheduler, reason: 'tick' });
      const ctx: TriggerContext<unknown> = { arriving: NEVER, appended: NEVER, flushed: NEVER, scheduler: new TestScheduler(() => undefined) };
      trigger(ctx).pipe(take(2)).subscribe((r) => times.push(r === 'tick' ? scheduler.now() : -1));
    });
    expect(times).toEqual([10_000, 20_000]);
  });

  it('unsubscribing cancels the wait', () =>
    ts().run(({ expectObservable }) => {
      // asyncScheduler runs in virtual time inside run(): fires at 1 s, unsubscribed at 1.5 s.
      const ctx: TriggerContext<unknown> = { arriving: NEVER, appended: NEVER, flushed: NEVER, scheduler: asyncScheduler };
      expectObservable(onSchedule('* * * * * *', { tz: 'UTC' })(ctx), '^ 1500ms !').toBe('1000ms x', { x: 'schedule' });
    }));

  it('rejects a bad pattern or time zone at creation', () => {
    expect(() => onSchedule('not a cron')).toThrow(InvalidConfigError);
    expect(() => onSchedule('0 2 * * *', { tz: 'Mars/Olympus' })).toThrow(InvalidConfigError);
  });
});
