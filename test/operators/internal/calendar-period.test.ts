import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../../src/errors.js';
import { calendarPeriodOf, validateCalendar, type CalendarSpec, type CalendarUnit } from '../../../operators/internal/calendar-period.js';

const HOUR = 3_600_000;
const london = (unit: CalendarUnit): CalendarSpec => ({ unit, timeZone: 'Europe/London' });
const iso = (ms: number) => new Date(ms).toISOString();

describe('calendarPeriodOf', () => {
  it('a late-March instant is in March (743 h: the clocks go forward), one second later is April', () => {
    const march = calendarPeriodOf(london('month'), Date.parse('2026-03-31T22:59:59.999Z'));
    expect([iso(march.start), iso(march.end), march.label]).toEqual(['2026-03-01T00:00:00.000Z', '2026-03-31T23:00:00.000Z', '2026-03']);
    expect((march.end - march.start) / HOUR).toBe(31 * 24 - 1);
    const april = calendarPeriodOf(london('month'), Date.parse('2026-03-31T23:00:00Z'));
    expect([iso(april.start), april.label]).toEqual(['2026-03-31T23:00:00.000Z', '2026-04']);
  });

  it('October has 745 h in London (the clocks go back), 744 h in UTC', () => {
    const oct = calendarPeriodOf(london('month'), Date.parse('2026-10-25T01:30:00Z'));
    expect((oct.end - oct.start) / HOUR).toBe(31 * 24 + 1);
    const utc = calendarPeriodOf({ unit: 'month', timeZone: 'UTC' }, Date.parse('2026-10-25T01:30:00Z'));
    expect((utc.end - utc.start) / HOUR).toBe(31 * 24);
  });

  it('days of 23 and 25 hours; ISO weeks from Monday', () => {
    const spring = calendarPeriodOf(london('day'), Date.parse('2026-03-29T12:00:00Z'));
    expect([(spring.end - spring.start) / HOUR, spring.label]).toEqual([23, '2026-03-29']);
    const autumn = calendarPeriodOf({ unit: 'day', timeZone: 'America/New_York' }, Date.parse('2026-11-01T12:00:00Z'));
    expect((autumn.end - autumn.start) / HOUR).toBe(25);
    const week = calendarPeriodOf(london('week'), Date.parse('2026-03-29T12:00:00Z'));
    expect([iso(week.start), iso(week.end), week.label]).toEqual(['2026-03-23T00:00:00.000Z', '2026-03-29T23:00:00.000Z', '2026-W13']);
  });

  it('a day whose local midnight does not exist starts at the first instant after it', () => {
    // São Paulo, 4 Nov 2018: clocks jumped from 00:00 to 01:00.
    const d = calendarPeriodOf({ unit: 'day', timeZone: 'America/Sao_Paulo' }, Date.parse('2018-11-04T12:00:00Z'));
    expect([iso(d.start), (d.end - d.start) / HOUR]).toEqual(['2018-11-04T03:00:00.000Z', 23]);
  });

  const zones = ['Europe/London', 'America/New_York', 'Australia/Sydney', 'Asia/Kolkata', 'America/Sao_Paulo', 'Pacific/Chatham', 'UTC'];
  const spec = fc.record({ unit: fc.constantFrom<CalendarUnit>('day', 'week', 'month'), timeZone: fc.constantFrom(...zones) });
  const instant = fc.integer({ min: Date.parse('2000-01-01T00:00:00Z'), max: Date.parse('2040-01-01T00:00:00Z') });

  it('property: every instant is in exactly one period, and periods are contiguous', () => {
    fc.assert(
      fc.property(spec, instant, (s, t) => {
        const p = calendarPeriodOf(s, t);
        expect(p.start <= t && t < p.end).toBe(true);
        // Contiguous: the next period starts where this one ends, the previous ends where it starts.
        expect(calendarPeriodOf(s, p.end).start).toBe(p.end);
        expect(calendarPeriodOf(s, p.start - 1).end).toBe(p.start);
        // Exactly one: both edges of the period map back to it.
        expect(calendarPeriodOf(s, p.start)).toEqual(p);
        expect(calendarPeriodOf(s, p.end - 1)).toEqual(p);
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 300) },
    );
  });

  it('property: a period is its days × 24 h, ± the DST shifts inside it (at most 1 h each way here)', () => {
    fc.assert(
      fc.property(spec, instant, (s, t) => {
        const p = calendarPeriodOf(s, t);
        const days =
          s.unit === 'day' ? 1 : s.unit === 'week' ? 7 : new Date(Date.UTC(Number(p.label.slice(0, 4)), Number(p.label.slice(5, 7)), 0)).getUTCDate();
        expect(Math.abs(p.end - p.start - days * 24 * HOUR)).toBeLessThanOrEqual(HOUR);
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 300) },
    );
  });
});

describe('validateCalendar', () => {
  it('names the field and value of a bad unit or zone', () => {
    expect(() => validateCalendar('c', 'calendar', { unit: 'year', timeZone: 'UTC' })).toThrow(
      new InvalidConfigError('c', 'calendar.unit', "must be 'day', 'week' or 'month', got year"),
    );
    expect(() => validateCalendar('c', 'calendar', { unit: 'day', timeZone: 'Mars/Olympus' })).toThrow(/calendar.timeZone.*Mars\/Olympus/);
    expect(() => validateCalendar('c', 'calendar', undefined)).toThrow(/'calendar' must be/);
    expect(validateCalendar('c', 'calendar', { unit: 'month', timeZone: 'Europe/London' })).toEqual({ unit: 'month', timeZone: 'Europe/London' });
  });
});
