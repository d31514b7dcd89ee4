import { createRequire } from 'node:module';
import type * as Luxon from 'luxon';
import { InvalidConfigError } from '../../src/errors.js';

let luxonExports: typeof Luxon | undefined;
/**
 * luxon, loaded by the first calendar check rather than with `sluice/operators`: a topology
 * without calendar windows or periods never loads it (~25 ms of a start, issue 14).
 */
function luxon(): typeof Luxon {
  return (luxonExports ??= createRequire(import.meta.url)('luxon') as typeof Luxon);
}

/** The calendar units a window or a period batch can be cut by. */
export type CalendarUnit = 'day' | 'week' | 'month';

/** A calendar period in a time zone: a day, an ISO week (Monday to Monday) or a month. */
export interface CalendarSpec {
  readonly unit: CalendarUnit;
  /** IANA time zone, e.g. `Europe/London`: periods start at local midnight there, DST included. */
  readonly timeZone: string;
}

/** One period `[start, end)`, epoch ms, with its local label (`2026-03`, `2026-03-29`, `2026-W13`). */
export interface CalendarPeriod {
  readonly start: number;
  readonly end: number;
  readonly label: string;
}

const UNITS: readonly CalendarUnit[] = ['day', 'week', 'month'];

/**
 * Checks a calendar spec once, at configuration time.
 * @throws InvalidConfigError naming `field` for an unknown unit or time zone.
 */
export function validateCalendar(component: string, field: string, spec: unknown): CalendarSpec {
  const s = spec as Partial<CalendarSpec> | undefined;
  if (s === undefined || s === null || typeof s !== 'object')
    throw new InvalidConfigError(component, field, `must be { unit: 'day' | 'week' | 'month', timeZone }, got ${String(spec)}`);
  if (!UNITS.includes(s.unit as CalendarUnit))
    throw new InvalidConfigError(component, `${field}.unit`, `must be 'day', 'week' or 'month', got ${String(s.unit)}`);
  if (typeof s.timeZone !== 'string' || !luxon().IANAZone.isValidZone(s.timeZone))
    throw new InvalidConfigError(component, `${field}.timeZone`, `must be an IANA time zone such as 'Europe/London', got ${String(s.timeZone)}`);
  return { unit: s.unit as CalendarUnit, timeZone: s.timeZone };
}

/**
 * The period of `spec` that holds instant `t` (epoch ms): it starts at the local midnight that
 * begins the day / ISO week / month in `spec.timeZone` and ends where the next one starts, so
 * periods are contiguous, every instant is in exactly one, and a month with a DST change is an
 * hour shorter or longer than 24 h × its days. Luxon resolves a local midnight that a DST jump
 * skips to the first instant after it.
 */
export function calendarPeriodOf(spec: CalendarSpec, t: number): CalendarPeriod {
  // Events come in runs within one period, and luxon's zone arithmetic costs ~0.1 ms: the last
  // few periods of each spec are kept and looked up first.
  const id = `${spec.unit} ${spec.timeZone}`;
  let recent = RECENT.get(id);
  if (recent === undefined) RECENT.set(id, (recent = []));
  for (const p of recent) if (p.start <= t && t < p.end) return p;
  const p = computePeriod(spec, t);
  recent.unshift(p);
  if (recent.length > 8) recent.pop();
  return p;
}

const RECENT = new Map<string, CalendarPeriod[]>();

function computePeriod(spec: CalendarSpec, t: number): CalendarPeriod {
  const { DateTime, IANAZone } = luxon();
  const local = DateTime.fromMillis(t, { zone: IANAZone.create(spec.timeZone) });
  const start = local.startOf(spec.unit);
  const end = start.plus({ [`${spec.unit}s`]: 1 }).startOf(spec.unit);
  const label = spec.unit === 'month' ? start.toFormat('yyyy-MM') : spec.unit === 'week' ? start.toFormat("kkkk-'W'WW") : start.toFormat('yyyy-MM-dd');
  return { start: start.toMillis(), end: end.toMillis(), label };
}
