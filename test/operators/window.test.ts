import fc from 'fast-check';
import { EMPTY, map, NEVER, Observable, of, Subject, take } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { BufferOverflowError, InvalidConfigError } from '../../src/errors.js';
import { window, type WindowConfig, type WindowOutput } from '../../operators/window.js';
import { schedule } from '../../operators/schedule.js';
import { ManualClock } from '../../src/testing/manual-clock.js';

const ts = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

interface Ev {
  readonly id: string;
  readonly eventTime: number;
  readonly k?: string;
}
const ev = (id: string, eventTime: number, k?: string): Ev => ({ id, eventTime, k });
/** Compact form of an output for marble comparison. */
const show = map((o: WindowOutput<Ev>) =>
  o.type === 'window'
    ? `${o.key === undefined ? '' : `${o.key}:`}[${o.start},${o.end}):${o.value.map((e) => e.id).join('')}`
    : `late:${o.item.id}:${o.missed.map((m) => `[${m.start},${m.end})`).join('')}`,
);

describe('window', () => {
  it('tumbling: emits a window when the watermark passes its end', () =>
    ts().run(({ cold, expectObservable }) => {
      const v = { a: ev('a', 1), b: ev('b', 9), c: ev('c', 10), d: ev('d', 25) };
      expectObservable(cold('abcd|', v).pipe(window({ kind: 'tumbling', sizeMs: 10 }), show)).toBe('--xy(z|)', {
        x: '[0,10):ab',
        y: '[10,20):c',
        z: '[20,30):d',
      });
    }));

  it('tumbling: out-of-order tolerance and late events to the side output', () =>
    ts().run(({ cold, expectObservable }) => {
      // maxOutOfOrderMs 5: c (12) leaves the watermark at 7, so b (3) is on time; d (16) → 11
      // closes [0,10); e (8) is late.
      const v = { a: ev('a', 1), c: ev('c', 12), b: ev('b', 3), d: ev('d', 16), e: ev('e', 8) };
      const op = window<Ev>({ kind: 'tumbling', sizeMs: 10, watermark: { maxOutOfOrderMs: 5 } });
      expectObservable(cold('acbde|', v).pipe(op, show)).toBe('---xy(z|)', {
        x: '[0,10):ab',
        y: 'late:e:[0,10)',
        z: '[10,20):cd',
      });
    }));

  it('allowedLatenessMs keeps a window open past its end', () =>
    ts().run(({ cold, expectObservable }) => {
      const v = { a: ev('a', 1), b: ev('b', 12), c: ev('c', 5), d: ev('d', 15), e: ev('e', 6) };
      const op = window<Ev>({ kind: 'tumbling', sizeMs: 10, allowedLatenessMs: 5 });
      expectObservable(cold('abcde|', v).pipe(op, show)).toBe('---xy(z|)', {
        x: '[0,10):ac',
        y: 'late:e:[0,10)',
        z: '[10,20):bd',
      });
    }));

  it('sliding: an event joins every window that covers it', () =>
    ts().run(({ cold, expectObservable }) => {
      const v = { a: ev('a', 7), b: ev('b', 30) };
      const op = window<Ev>({ kind: 'sliding', sizeMs: 10, slideMs: 5 });
      expectObservable(cold('ab 4ms |', v).pipe(op, show)).toBe('-(xy) 1ms (zw|)', {
        x: '[0,10):a',
        y: '[5,15):a',
        z: '[25,35):b',
        w: '[30,40):b',
      });
    }));

  it('session: merges events closer than gapMs, per key, and emits when the gap passed', () =>
    ts().run(({ cold, expectObservable }) => {
      const v = { a: ev('a', 0, 'u1'), b: ev('b', 4, 'u2'), c: ev('c', 8, 'u1'), d: ev('d', 30, 'u1'), e: ev('e', 31, 'u2') };
      const op = window<Ev>({ kind: 'session', gapMs: 10, keyOf: (e) => e.k ?? '' });
      expectObservable(cold('abcd 5ms e|', v).pipe(op, show)).toBe('---(xy) 3ms (zw|)', {
        x: 'u2:[4,14):b',
        y: 'u1:[0,18):ac',
        z: 'u1:[30,40):d',
        w: 'u2:[31,41):e',
      });
    }));

  it('session: an event between two sessions merges them', () =>
    ts().run(({ cold, expectObservable }) => {
      const v = { a: ev('a', 0), b: ev('b', 15), c: ev('c', 8) };
      const op = window<Ev>({ kind: 'session', gapMs: 10, watermark: { maxOutOfOrderMs: 100 } });
      expectObservable(cold('abc|', v).pipe(op, show)).toBe('---(x|)', { x: '[0,25):abc' });
    }));

  it('aggregate: folds instead of keeping items', () =>
    ts().run(({ cold, expectObservable }) => {
      const v = { a: ev('a', 1), b: ev('b', 2), c: ev('c', 11) };
      const op = window<Ev, number>({ kind: 'tumbling', sizeMs: 10, aggregate: { seed: () => 0, add: (n) => n + 1 } });
      expectObservable(
        cold('abc|', v).pipe(
          op,
          map((o) => (o.type === 'window' ? `${o.start}:${o.value}/${o.count}` : 'late')),
        ),
      ).toBe('--x(y|)', { x: '0:2/2', y: '10:1/1' });
    }));

  it('idleAdvanceMs: windows close when input stops', () =>
    ts().run(({ cold, expectObservable }) => {
      const v = { a: ev('a', 1), b: ev('b', 4) };
      const op = window<Ev>({ kind: 'tumbling', sizeMs: 10, watermark: { maxOutOfOrderMs: 2, idleAdvanceMs: 5 } });
      // watermark 2 after b; +5 at frame 6 → 7; +5 at frame 11 → 12 ≥ 10: emitted at frame 11.
      expectObservable(cold('ab', v).pipe(op, show), '^ 50ms !').toBe('11ms x', { x: '[0,10):ab' });
    }));

  it('advanceOn: a calendar moves the watermark to each tick’s eventTime and closes windows', () =>
    ts().run(({ cold, expectObservable }) => {
      const v = { a: ev('a', 1), b: ev('b', 12) };
      const ticks = cold('----x', { x: { eventTime: 10 } });
      // Out-of-order tolerance 100 holds both windows; the tick at frame 4 says event time 10 is final.
      const op = window<Ev>({ kind: 'tumbling', sizeMs: 10, watermark: { maxOutOfOrderMs: 100, advanceOn: ticks } });
      expectObservable(cold('ab---|', v).pipe(op, show)).toBe('----x(y|)', { x: '[0,10):a', y: '[10,20):b' });
    }));

  it('advanceOn with schedule(): the day closes at 00:30 London time, late transactions after it go to the side output', () => {
    const clock = new ManualClock(Date.parse('2026-10-24T12:00Z'));
    const HOUR = 3_600_000;
    const tx = new Subject<Ev>();
    const out: string[] = [];
    // Days in London time (BST, UTC+1, until 25 October): windows start at 23:00Z.
    const sub = tx
      .pipe(
        window<Ev>({
          kind: 'tumbling',
          sizeMs: 24 * HOUR,
          offsetMs: -HOUR,
          watermark: { maxOutOfOrderMs: 24 * HOUR, advanceOn: schedule('30 0 * * *', { name: 'day-close', tz: 'Europe/London', scheduler: clock }) },
        }),
      )
      .subscribe((o) =>
        out.push(
          `${new Date(clock.now()).toISOString()} ${o.type === 'window' ? `${new Date(o.start).toISOString()} ${o.value.map((e) => e.id).join('')}` : `late ${o.item.id}`}`,
        ),
      );
    tx.next(ev('a', Date.parse('2026-10-24T13:00Z')));
    clock.advance(11 * HOUR); // 23:00Z = 00:00 BST on the 25th
    tx.next(ev('b', Date.parse('2026-10-24T22:50Z'))); // arrives after midnight, before the close: in
    clock.advance(HOUR); // 00:30 BST = 23:30Z closes the 24th
    tx.next(ev('c', Date.parse('2026-10-24T22:55Z'))); // after the close: late
    sub.unsubscribe();
    expect(out).toEqual(['2026-10-24T23:30:00.000Z 2026-10-23T23:00:00.000Z ab', '2026-10-25T00:00:00.000Z late c']);
  });

  it('an event without a finite eventTime goes to the side output', () =>
    ts().run(({ cold, expectObservable }) => {
      const v = { a: ev('a', Number.NaN) };
      expectObservable(cold('a|', v).pipe(window<Ev>({ kind: 'tumbling', sizeMs: 10 }), show)).toBe('x|', { x: 'late:a:' });
    }));

  it('errors with BufferOverflowError past maxOpenWindows', () => {
    const errors: unknown[] = [];
    of(ev('a', 0, 'x'), ev('b', 0, 'y'))
      .pipe(window<Ev>({ kind: 'tumbling', sizeMs: 10, keyOf: (e) => e.k ?? '', maxOpenWindows: 1 }))
      .subscribe({ error: (e) => errors.push(e) });
    expect(errors[0]).toBeInstanceOf(BufferOverflowError);
  });

  describe('checklist', () => {
    const cfg: WindowConfig<Ev> = { kind: 'tumbling', sizeMs: 10 };
    it('never', () => ts().run(({ expectObservable }) => expectObservable(NEVER.pipe(window(cfg))).toBe('-')));
    it('empty', () => ts().run(({ expectObservable }) => expectObservable(EMPTY.pipe(window(cfg))).toBe('|')));
    it('one value: its window is emitted on completion', () =>
      ts().run(({ expectObservable }) => expectObservable(of(ev('a', 3)).pipe(window(cfg), show)).toBe('(x|)', { x: '[0,10):a' })));
    it('source error: forwarded', () => ts().run(({ cold, expectObservable }) => expectObservable(cold('a#', { a: ev('a', 1) }).pipe(window(cfg))).toBe('-#')));
    it('early unsubscribe: cancels the idle timer', () =>
      ts().run(({ hot, expectObservable, expectSubscriptions }) => {
        const src = hot('a-----', { a: ev('a', 1) });
        expectObservable(src.pipe(window<Ev>({ ...cfg, watermark: { idleAdvanceMs: 2 } })), '^--!').toBe('---');
        expectSubscriptions(src.subscriptions).toBe('^--!');
      }));
    it('keyOf throws: errors the output', () =>
      ts().run(({ cold, expectObservable }) => {
        const boom = new Error('boom');
        expectObservable(
          cold('a', { a: ev('a', 1) }).pipe(
            window<Ev>({
              ...cfg,
              keyOf: () => {
                throw boom;
              },
            }),
          ),
        ).toBe('#', undefined, boom);
      }));
    it('stops a synchronous source when unsubscribed', () => {
      let produced = 0;
      const src = new Observable<Ev>((sub) => {
        for (let i = 0; i < 100 && !sub.closed; i++) {
          produced++;
          sub.next(ev(String(i), i * 10));
        }
        sub.complete();
      });
      const seen: string[] = [];
      src.pipe(window<Ev>(cfg), show, take(3)).subscribe((s) => seen.push(s));
      expect(seen).toEqual(['[0,10):0', '[10,20):1', '[20,30):2']);
      expect(produced).toBe(4);
    });
  });

  it('validates its config at creation', () => {
    expect(() => window({ kind: 'hopping' as never, sizeMs: 1 })).toThrow(InvalidConfigError);
    expect(() => window({ kind: 'tumbling' })).toThrow(/sizeMs/);
    expect(() => window({ kind: 'sliding', sizeMs: 10 })).toThrow(/slideMs/);
    expect(() => window({ kind: 'sliding', sizeMs: 10, slideMs: 20 })).toThrow(/slideMs/);
    expect(() => window({ kind: 'session' })).toThrow(/gapMs/);
    expect(() => window<Ev, number>({ kind: 'session', gapMs: 5, aggregate: { seed: () => 0, add: (n) => n } })).toThrow(/merge/);
    expect(() => window({ kind: 'tumbling', sizeMs: 10, allowedLatenessMs: -1 })).toThrow(/allowedLatenessMs/);
  });

  describe('properties', () => {
    const eventsArb = fc.array(fc.record({ t: fc.integer({ min: 0, max: 200 }), k: fc.constantFrom('a', 'b') }), { maxLength: 50 });

    it('tumbling/sliding: each on-time event is in exactly its windows, each late one in the side output (vs a reference model)', () => {
      fc.assert(
        fc.property(
          eventsArb,
          fc.integer({ min: 1, max: 30 }),
          fc.integer({ min: 1, max: 30 }),
          fc.integer({ min: 0, max: 20 }),
          fc.integer({ min: 0, max: 20 }),
          fc.boolean(),
          (raw, sizeMs, slideRaw, outOfOrderMs, latenessMs, sliding) => {
            const slideMs = sliding ? Math.min(slideRaw, sizeMs) : sizeMs;
            const events = raw.map((e, i) => ({ id: String(i), eventTime: e.t, k: e.k }));
            // Reference model: windows of t; a window is closed once max(t seen) - ooo >= end + lateness.
            const expectedIn = new Map<string, string[]>();
            const expectedLate = new Map<string, string[]>();
            let max = -Infinity;
            for (const e of events) {
              max = Math.max(max, e.eventTime);
              for (let start = Math.floor(e.eventTime / slideMs) * slideMs; start > e.eventTime - sizeMs; start -= slideMs) {
                const w = `${e.k}|${start}|${start + sizeMs}`;
                if (start + sizeMs + latenessMs <= max - outOfOrderMs) expectedLate.set(e.id, [...(expectedLate.get(e.id) ?? []), w]);
                else expectedIn.set(w, [...(expectedIn.get(w) ?? []), e.id]);
              }
            }
            const gotIn = new Map<string, string[]>();
            const gotLate = new Map<string, string[]>();
            of(...events)
              .pipe(
                window<Ev>({
                  kind: sliding ? 'sliding' : 'tumbling',
                  sizeMs,
                  slideMs: sliding ? slideMs : undefined,
                  allowedLatenessMs: latenessMs,
                  watermark: { maxOutOfOrderMs: outOfOrderMs },
                  keyOf: (e) => e.k ?? '',
                }),
              )
              .subscribe((o) => {
                if (o.type === 'window') {
                  const w = `${o.key}|${o.start}|${o.end}`;
                  expect(gotIn.has(w)).toBe(false);
                  gotIn.set(
                    w,
                    o.value.map((e) => e.id),
                  );
                } else {
                  gotLate.set(
                    o.item.id,
                    o.missed.map((m) => `${o.item.k}|${m.start}|${m.end}`),
                  );
                }
              });
            const sortMap = (m: Map<string, string[]>) => [...m].map(([k, v]) => [k, [...v].sort()]).sort();
            expect(sortMap(gotIn)).toEqual(sortMap(expectedIn));
            expect(sortMap(gotLate)).toEqual(sortMap(expectedLate));
          },
        ),
        { numRuns: Number(process.env.PROP_RUNS ?? 200) },
      );
    });

    it('advanceOn: with calendar ticks interleaved, each event is in exactly its window or late (vs a reference model)', () => {
      fc.assert(
        fc.property(
          fc.array(fc.oneof(fc.record({ e: fc.integer({ min: 0, max: 200 }) }), fc.record({ tick: fc.integer({ min: 0, max: 200 }) })), { maxLength: 60 }),
          fc.integer({ min: 1, max: 30 }),
          fc.integer({ min: 0, max: 20 }),
          fc.integer({ min: 0, max: 20 }),
          (steps, sizeMs, outOfOrderMs, latenessMs) => {
            const expectedIn = new Map<string, string[]>();
            const expectedLate = new Set<string>();
            let max = -Infinity;
            steps.forEach((s, i) => {
              if ('tick' in s) return void (max = Math.max(max, s.tick + outOfOrderMs));
              max = Math.max(max, s.e);
              const start = Math.floor(s.e / sizeMs) * sizeMs;
              if (start + sizeMs + latenessMs <= max - outOfOrderMs) expectedLate.add(String(i));
              else expectedIn.set(String(start), [...(expectedIn.get(String(start)) ?? []), String(i)]);
            });
            const events = new Subject<Ev>();
            const ticks = new Subject<{ eventTime: number }>();
            const gotIn = new Map<string, string[]>();
            const gotLate = new Set<string>();
            events
              .pipe(window<Ev>({ kind: 'tumbling', sizeMs, allowedLatenessMs: latenessMs, watermark: { maxOutOfOrderMs: outOfOrderMs, advanceOn: ticks } }))
              .subscribe((o) => {
                if (o.type === 'late') return void gotLate.add(o.item.id);
                expect(gotIn.has(String(o.start))).toBe(false);
                gotIn.set(
                  String(o.start),
                  o.value.map((e) => e.id),
                );
              });
            steps.forEach((s, i) => ('tick' in s ? ticks.next({ eventTime: s.tick }) : events.next(ev(String(i), s.e))));
            events.complete();
            expect([...gotIn].sort()).toEqual([...expectedIn].sort());
            expect([...gotLate].sort()).toEqual([...expectedLate].sort());
          },
        ),
        { numRuns: Number(process.env.PROP_RUNS ?? 200) },
      );
    });

    it('session: every event is in exactly one session or late; sessions have no inner gap >= gapMs', () => {
      fc.assert(
        fc.property(eventsArb, fc.integer({ min: 1, max: 30 }), fc.integer({ min: 0, max: 30 }), (raw, gapMs, outOfOrderMs) => {
          const events = raw.map((e, i) => ({ id: String(i), eventTime: e.t, k: e.k }));
          const seen = new Map<string, number>();
          of(...events)
            .pipe(window<Ev>({ kind: 'session', gapMs, watermark: { maxOutOfOrderMs: outOfOrderMs }, keyOf: (e) => e.k ?? '' }))
            .subscribe((o) => {
              const ids = o.type === 'window' ? o.value.map((e) => e.id) : [o.item.id];
              for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1);
              if (o.type === 'window') {
                const times = o.value.map((e) => e.eventTime).sort((a, b) => a - b);
                expect(o.value.every((e) => e.k === o.key)).toBe(true);
                expect(o.start).toBe(times[0]);
                expect(o.end).toBe((times[times.length - 1] ?? 0) + gapMs);
                for (let i = 1; i < times.length; i++) expect((times[i] ?? 0) - (times[i - 1] ?? 0)).toBeLessThan(gapMs);
              }
            });
          expect([...seen.keys()].sort()).toEqual(events.map((e) => e.id).sort());
          expect([...seen.values()].every((n) => n === 1)).toBe(true);
        }),
        { numRuns: Number(process.env.PROP_RUNS ?? 200) },
      );
    });
  });
});
