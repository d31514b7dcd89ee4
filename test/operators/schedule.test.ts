import fc from 'fast-check';
import { map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../src/errors.js';
import { currentSettlement } from '../../src/settle/settle-scope.js';
import type { Settlement } from '../../src/settle/settlement.js';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { schedule, type ScheduleRun } from '../../operators/schedule.js';
import { memoryScheduleState, scheduleStateIn } from '../../src/state/schedule-state.js';
import { useTempStateStores } from '../helpers/temp-state-store.js';

const tempStore = useTempStateStores('schedule');
const ts = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const iso = (ms: number) => new Date(ms).toISOString();

/** 02:00 wall-clock time in London for each day in (from, to], computed with Intl, not croner. */
function londonTwoAm(from: number, to: number): number[] {
  const fmt = new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Europe/London',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  });
  const out: number[] = [];
  for (let day = Math.floor(from / DAY) * DAY; day <= to; day += DAY) {
    const d = new Date(day);
    const wanted = fmt.format(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), 12)).slice(0, 10) + ', 02:00';
    // London is UTC+0 or UTC+1: 02:00 local is 02:00Z or 01:00Z.
    const at = [Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), 1), Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), 2)].find(
      (t) => fmt.format(t) === wanted,
    );
    if (at !== undefined && at > from && at <= to) out.push(at);
  }
  return out;
}

/** Collects the runs of a schedule over a ManualClock; `hold` keeps a run's settlement open. */
function collect(run$: ReturnType<typeof schedule>, opts: { hold?: (run: ScheduleRun) => boolean } = {}) {
  const runs: ScheduleRun[] = [];
  const held: Settlement[] = [];
  const sub = run$.subscribe((run) => {
    runs.push(run);
    if (opts.hold?.(run) === true) {
      const s = currentSettlement()!;
      s.hold();
      held.push(s);
    }
  });
  return { runs, held, stop: () => sub.unsubscribe() };
}

describe('schedule', () => {
  it('emits one envelope per fire time, in virtual time', () =>
    ts().run(({ expectObservable }) => {
      const s$ = schedule('*/10 * * * * *', { name: 'tick', tz: 'UTC' }).pipe(map((r) => `${r.subject} ${r.id} ${r.eventTime} ${r.data.runs}`));
      expectObservable(s$, '^ 25s !').toBe('10s a 9999ms b', {
        a: 'schedule.tick schedule:tick:10000 10000 1',
        b: 'schedule.tick schedule:tick:20000 20000 1',
      });
    }));

  it('DST in Europe/London: a daily 02:00 fires once every day through both changes', () => {
    const start = Date.parse('2026-03-25T00:00Z');
    const clock = new ManualClock(start);
    const { runs, stop } = collect(schedule('0 2 * * *', { name: 'nightly', tz: 'Europe/London', scheduler: clock }));
    clock.advance(220 * DAY);
    stop();
    const expected = londonTwoAm(start, start + 220 * DAY);
    expect(runs.map((r) => iso(r.data.scheduledAt))).toEqual(expected.map(iso));
    // Spring forward (29 March): 02:00 BST = 01:00Z; autumn (25 October): 02:00 GMT = 02:00Z.
    expect(expected.map(iso)).toContain('2026-03-29T01:00:00.000Z');
    expect(expected.map(iso)).toContain('2026-10-25T02:00:00.000Z');
  });

  it('DST gap and overlap (croner 11): 01:30 London runs after the gap in spring, once in autumn', () => {
    const at = (from: string, days: number) => {
      const clock = new ManualClock(Date.parse(from));
      const { runs, stop } = collect(schedule('30 1 * * *', { name: 'x', tz: 'Europe/London', scheduler: clock }));
      clock.advance(days * DAY);
      stop();
      return runs.map((r) => iso(r.data.scheduledAt));
    };
    // 01:30 does not exist on 29 March (01:00 GMT -> 02:00 BST): it fires at 02:00 BST, once.
    expect(at('2026-03-28T12:00Z', 2)).toEqual(['2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z']);
    // 01:30 happens twice on 25 October (BST, then GMT): it fires once, at the first.
    expect(at('2026-10-24T12:00Z', 2)).toEqual(['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
    // Every 30 minutes stays 30 real minutes apart through the repeated hour.
    const clock = new ManualClock(Date.parse('2026-10-25T00:10Z'));
    const { runs, stop } = collect(schedule('*/30 * * * *', { name: 'y', tz: 'Europe/London', scheduler: clock }));
    clock.advance(2 * HOUR);
    stop();
    expect(runs.map((r) => r.data.scheduledAt - Date.parse('2026-10-25T00:00Z'))).toEqual([0.5, 1, 1.5, 2].map((h) => h * HOUR));
  });

  it.each([
    ['skip', []],
    ['once', [['2026-01-04T02:00:00.000Z', 3]]],
    [
      'all',
      [
        ['2026-01-02T02:00:00.000Z', 1],
        ['2026-01-03T02:00:00.000Z', 1],
        ['2026-01-04T02:00:00.000Z', 1],
      ],
    ],
  ] as const)("catch-up '%s' after three missed days", (catchUp, expected) => {
    const state = memoryScheduleState();
    const clock = new ManualClock(Date.parse('2026-01-01T12:00Z'));
    const config = { name: 'n', tz: 'Europe/London', catchUp, state, scheduler: clock } as const;
    collect(schedule('0 2 * * *', config)).stop(); // first start records "nothing owed before now"
    clock.advance(3 * DAY); // down
    const second = collect(schedule('0 2 * * *', config));
    clock.advance(1);
    second.stop();
    expect(second.runs.map((r) => [iso(r.data.scheduledAt), r.data.runs])).toEqual(expected);
    expect(second.runs.every((r) => r.data.catchUp && r.data.firedAt === Date.parse('2026-01-04T12:00Z'))).toBe(true);
    // Whatever the policy, the missed days now count as handled: a third start owes nothing.
    expect(state.load()).toBe(Date.parse('2026-01-04T02:00Z'));
  });

  it("overlap 'skip', 'queue', 'cancel' while a run is still running", () => {
    const run = (overlap: 'skip' | 'queue' | 'cancel') => {
      const clock = new ManualClock(0);
      const c = collect(schedule('* * * * * *', { name: 'o', tz: 'UTC', overlap, scheduler: clock }), { hold: (r) => r.data.scheduledAt === 1000 });
      clock.advance(3500);
      const during = c.runs.map((r) => r.data.scheduledAt);
      c.held[0]!.release(); // the 1 s run ends at 3.5 s
      clock.advance(1000);
      c.stop();
      return { during, after: c.runs.map((r) => `${r.data.scheduledAt}@${r.data.firedAt}`), aborted: c.runs[0]!.signal.aborted };
    };
    expect(run('skip')).toEqual({ during: [1000], after: ['1000@1000', '4000@4000'], aborted: false });
    expect(run('queue')).toEqual({ during: [1000], after: ['1000@1000', '2000@3500', '3000@3500', '4000@4000'], aborted: false });
    expect(run('cancel')).toEqual({ during: [1000, 2000, 3000], after: ['1000@1000', '2000@2000', '3000@3000', '4000@4000'], aborted: true });
  });

  it('a failed run keeps the state before it: the next start runs it again as missed', () => {
    const state = memoryScheduleState();
    const clock = new ManualClock(0);
    const config = { name: 'f', tz: 'UTC', catchUp: 'all', state, scheduler: clock } as const;
    const first = schedule('* * * * * *', config).subscribe((r) => {
      if (r.data.scheduledAt === 2000) currentSettlement()!.fail(new Error('job failed'));
    });
    clock.advance(3000);
    first.unsubscribe();
    expect(state.load()).toBe(1000);
    const second = collect(schedule('* * * * * *', config));
    clock.advance(0);
    second.stop();
    expect(second.runs.map((r) => r.id)).toEqual(['schedule:f:2000', 'schedule:f:3000']);
  });

  it('keeps its state in the LMDB state store across instances', () => {
    const store = tempStore();
    const clock = new ManualClock(Date.parse('2026-06-01T00:00Z'));
    const config = { name: 'lmdb', tz: 'Europe/London', catchUp: 'all', state: scheduleStateIn(store, 'lmdb'), scheduler: clock } as const;
    const a = collect(schedule('0 2 * * *', config));
    clock.advance(DAY);
    a.stop();
    clock.advance(2 * DAY);
    const b = collect(schedule('0 2 * * *', { ...config, state: scheduleStateIn(store, 'lmdb') }));
    clock.advance(1);
    b.stop();
    expect([...a.runs, ...b.runs].map((r) => iso(r.data.scheduledAt))).toEqual([
      '2026-06-01T01:00:00.000Z',
      '2026-06-02T01:00:00.000Z',
      '2026-06-03T01:00:00.000Z',
    ]);
  });

  it('missed runs past maxCatchUp: the latest are kept', () => {
    const state = memoryScheduleState(0);
    const clock = new ManualClock(10 * DAY + 1);
    const c = collect(schedule('* * * * * *', { name: 'm', tz: 'UTC', catchUp: 'all', maxCatchUp: 3, state, scheduler: clock }));
    clock.advance(0);
    c.stop();
    expect(c.runs.map((r) => r.data.scheduledAt)).toEqual([10 * DAY - 2000, 10 * DAY - 1000, 10 * DAY]);
  });

  it('rejects bad config at creation, naming the field', () => {
    expect(() => schedule('0 2 * * *', { name: 'a b' })).toThrow(/name/);
    expect(() => schedule('nope', { name: 'a' })).toThrow(InvalidConfigError);
    expect(() => schedule('0 2 * * *', { name: 'a', tz: 'Mars/Base' })).toThrow(/tz/);
    expect(() => schedule('0 2 * * *', { name: 'a', catchUp: 'once' })).toThrow(/catchUp.*state/);
    expect(() => schedule('0 2 * * *', { name: 'a', overlap: 'later' as never })).toThrow(/overlap/);
  });

  it('property: a daily 02:00 Europe/London schedule runs each day exactly once across DST and restarts (LMDB state)', () => {
    const store = tempStore();
    let n = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300 }), // start day offset from 2026-01-01
        fc.array(
          fc.record({
            upMs: fc.integer({ min: 1, max: 20 * DAY }),
            downMs: fc.integer({ min: 0, max: 15 * DAY }),
            runMs: fc.integer({ min: 0, max: 3 * HOUR }),
          }),
          { minLength: 1, maxLength: 8 },
        ),
        fc.constantFrom('skip', 'once', 'all'),
        (startDay, segments, catchUp) => {
          const name = `p${++n}`;
          const start = Date.parse('2026-01-01T00:00Z') + startDay * DAY + 7 * HOUR + 13;
          const clock = new ManualClock(start);
          const fired: { at: number; runs: number; catchUp: boolean; done: boolean; start: number }[] = [];
          // The last start only catches up, with runs that finish at once.
          for (const [i, seg] of [...segments, { upMs: 1, downMs: 0, runMs: 0 }].entries()) {
            // A restart: a new operator instance over the same LMDB store.
            const running = new Map<Settlement, { unsubscribe(): void }>();
            const entries: (typeof fired)[number][] = [];
            const sub = schedule('0 2 * * *', {
              name,
              tz: 'Europe/London',
              catchUp,
              overlap: 'queue',
              state: scheduleStateIn(store, name),
              scheduler: clock,
            }).subscribe((r) => {
              const entry = { at: r.data.scheduledAt, runs: r.data.runs, catchUp: r.data.catchUp, done: seg.runMs === 0, start: i };
              entries.push(entry);
              if (seg.runMs === 0) return;
              // The run takes runMs; a crash before then leaves it unfinished.
              const s = currentSettlement()!;
              s.hold();
              running.set(
                s,
                clock.schedule(() => {
                  entry.done = true;
                  running.delete(s);
                  s.release();
                }, seg.runMs),
              );
            });
            clock.advance(seg.upMs);
            // The crash: the instance goes away with its runs in progress.
            sub.unsubscribe();
            for (const wait of running.values()) wait.unsubscribe();
            fired.push(...entries);
            if (i < segments.length) clock.advance(seg.downMs);
          }
          const days = londonTwoAm(start, clock.now());
          const ats = fired.map((f) => f.at);
          // Only 02:00 London days, in order; no day finished twice; a day runs again only after its run was cut by a crash.
          expect(ats.every((a) => days.includes(a))).toBe(true);
          expect(ats.every((a, k) => k === 0 || a >= ats[k - 1]! || fired[k]!.start > fired[k - 1]!.start)).toBe(true);
          for (const d of days) expect(fired.filter((f) => f.at === d && f.done).length).toBeLessThanOrEqual(1);
          for (const [k, f] of fired.entries())
            if (fired.slice(0, k).some((g) => g.at === f.at)) expect(fired.slice(0, k).some((g) => g.at === f.at && !g.done)).toBe(true);
          if (catchUp === 'all') {
            // Every day ran to the end exactly once.
            expect(days.filter((d) => fired.filter((f) => f.at === d && f.done).length !== 1).map(iso)).toEqual([]);
          } else {
            expect(fired.filter((f) => f.catchUp).every(() => catchUp === 'once')).toBe(true);
            // At most one catch-up run per start.
            for (let k = 0; k <= segments.length; k++) expect(fired.filter((f) => f.catchUp && f.start === k).length).toBeLessThanOrEqual(1);
          }
        },
      ),
      { numRuns: Number(process.env.PROP_RUNS ?? 60) },
    );
  });
});
