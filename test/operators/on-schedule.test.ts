import fc from 'fast-check';
import { asyncScheduler, map, NEVER, Subject, take } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../src/errors.js';
import { batchUntil, type TriggerContext } from '../../operators/batch-until.js';
import { onSchedule } from '../../operators/on-schedule.js';
import { scheduleStateIn } from '../../src/state/schedule-state.js';
import type { Batch } from '../../operators/batch-until.js';
import { lmdbBatchBuffer } from '../../src/state/lmdb-batch-buffer.js';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { useTempStateStores } from '../helpers/temp-state-store.js';

const tempStore = useTempStateStores('on-schedule');
const DAY = 86_400_000;

const ts = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

/** Fire times of a trigger in virtual time (epoch 0 = 1970-01-01T00:00Z). */
function fireTimes(trigger: ReturnType<typeof onSchedule>, n: number): number[] {
  const scheduler = new TestScheduler(() => undefined);
  const times: number[] = [];
  scheduler.run(() => {
    const ctx: TriggerContext<unknown> = { arriving: NEVER, appended: NEVER, flushed: new Subject<void>(), scheduler };
    trigger(ctx)
      .pipe(take(n))
      .subscribe(() => times.push(scheduler.now()));
  });
  return times;
}

describe('onSchedule', () => {
  it('flushes the batch at each cron fire time, in virtual time', () =>
    ts().run(({ cold, expectObservable }) => {
      const op = batchUntil<string>(onSchedule('* * * * *', { tz: 'UTC' }), { name: 'minute' });
      expectObservable(
        cold('a 29999ms b 60s |').pipe(
          op,
          map((b) => `${b.reason}:${b.items().join('')}`),
        ),
      ).toBe('60s x 30000ms |', {
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
      trigger(ctx)
        .pipe(take(2))
        .subscribe((r) => times.push(r === 'tick' ? scheduler.now() : -1));
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

  it("overlap: 'skip' passes over a fire while a batch is unsettled, 'queue' flushes once it settles", () => {
    const run = (overlap: 'skip' | 'queue') => {
      const clock = new ManualClock(0);
      const values = new Subject<number>();
      const batches: Batch<number>[] = [];
      const out: string[] = [];
      const sub = values.pipe(batchUntil(onSchedule('* * * * * *', { tz: 'UTC', overlap }), { name: 'o', scheduler: clock })).subscribe((b) => {
        batches.push(b);
        out.push(`${b.items().join('')}@${b.batchId}`);
      });
      values.next(1);
      clock.advance(1000); // batch 1 flushed, not released
      values.next(2);
      clock.advance(1000); // due while batch 1 runs
      batches[0]!.release();
      clock.advance(500);
      sub.unsubscribe();
      return out;
    };
    expect(run('skip')).toEqual(['1@o:1']);
    expect(run('queue')).toEqual(['1@o:1', '2@o:2']);
    expect(() => onSchedule('* * * * *', { overlap: 'cancel' })).toThrow(/overlap.*cancel/);
  });

  it("catch-up 'once' flushes the batch kept in LMDB over the downtime, once", () => {
    const store = tempStore();
    const clock = new ManualClock(Date.parse('2026-03-27T12:00Z'));
    const start = () => {
      const out: string[] = [];
      const values = new Subject<string>();
      const trigger = onSchedule('0 2 * * *', { tz: 'Europe/London', catchUp: 'once', state: scheduleStateIn(store, 'nightly') });
      const sub = values
        .pipe(batchUntil(trigger, { name: 'nightly', buffer: lmdbBatchBuffer<string>({ store, name: 'nightly' }), scheduler: clock }))
        .subscribe((b) => {
          out.push(`${new Date(clock.now()).toISOString()} ${b.reason} ${b.items().join(',')}`);
          b.release();
        });
      return { values, out, stop: () => sub.unsubscribe() };
    };
    const first = start();
    first.values.next('a');
    clock.advance(DAY); // 28 March 02:00 GMT flushes 'a'
    first.values.next('b');
    clock.advance(1);
    first.stop(); // down over the spring-forward night and the next
    clock.advance(2 * DAY);
    const second = start();
    clock.advance(1);
    second.stop();
    expect(first.out).toEqual(['2026-03-28T02:00:00.000Z schedule a']);
    expect(second.out).toEqual(['2026-03-30T12:00:00.001Z schedule b']);
  });

  it('property: batchUntil on a daily 02:00 London trigger flushes once per day across DST and restarts (catch-up all)', () => {
    const store = tempStore();
    let n = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 330 }),
        fc.array(fc.record({ upMs: fc.integer({ min: 1, max: 12 * DAY }), downMs: fc.integer({ min: 0, max: 9 * DAY }), values: fc.nat(4) }), {
          minLength: 1,
          maxLength: 6,
        }),
        (startDay, segments) => {
          const name = `b${++n}`;
          const t0 = Date.parse('2026-01-01T05:00Z') + startDay * DAY;
          const clock = new ManualClock(t0);
          const seen: string[] = [];
          let flushes = 0;
          let sent = 0;
          for (const [i, seg] of [...segments, { upMs: 1, downMs: 0, values: 0 }].entries()) {
            // A restart: new trigger, buffer and operator over the same LMDB store.
            const values = new Subject<string>();
            const trigger = onSchedule('0 2 * * *', { tz: 'Europe/London', catchUp: 'all', overlap: 'queue', state: scheduleStateIn(store, name) });
            const sub = values
              .pipe(batchUntil(trigger, { name, emitEmpty: true, buffer: lmdbBatchBuffer<string>({ store, name }), scheduler: clock }))
              .subscribe((b) => {
                if (b.reason === 'schedule') flushes++;
                seen.push(...b.items());
                b.release();
              });
            for (let v = 0; v < seg.values; v++) {
              clock.advance(Math.floor(seg.upMs / (seg.values + 1)));
              values.next(`v${sent++}`);
            }
            clock.advance(Math.max(0, seg.upMs - Math.floor(seg.upMs / (seg.values + 1)) * seg.values));
            sub.unsubscribe();
            if (i < segments.length) clock.advance(seg.downMs);
          }
          // One flush per 02:00 London between the first start and the end, none twice, none lost.
          const fmt = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/London', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
          let days = 0;
          for (let h = Math.ceil(t0 / 3_600_000) * 3_600_000; h <= clock.now(); h += 3_600_000) if (fmt.format(h) === '02:00') days++;
          expect(flushes).toBe(days);
          // The values flushed are those sent (the last start's catch-up got what the crash left).
          // Every value flushed once, in order; only those sent after the last 02:00 are still open.
          expect(seen).toEqual(Array.from({ length: seen.length }, (_, k) => `v${k}`));
          expect(lmdbBatchBuffer<string>({ store, name }).count()).toBe(sent - seen.length);
        },
      ),
      { numRuns: Number(process.env.PROP_RUNS ?? 40) },
    );
  });
});
