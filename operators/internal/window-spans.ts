import { calendarPeriodOf, type CalendarSpec } from './calendar-period.js';

/** How fixed windows are cut: every `slideMs` for `sizeMs` from `offsetMs`, or by calendar period. */
export type FixedWindowSpec =
  | { readonly kind: 'tumbling' | 'sliding'; readonly sizeMs: number; readonly slideMs: number; readonly offsetMs: number }
  | { readonly kind: 'calendar'; readonly calendar: CalendarSpec };

/** One window `[start, end)`, epoch ms. */
export interface WindowSpan {
  readonly start: number;
  readonly end: number;
}

/**
 * The windows that hold event time `t`, oldest first: the in-memory `window` operator and the
 * durable window cut windows with this one function, so both put an event in the same windows.
 * Tumbling and sliding windows start at `k * slideMs + offsetMs` with `start <= t < start + sizeMs`;
 * a calendar window is the period (day, week, month in a time zone) that holds `t`.
 */
export function windowSpansOf(spec: FixedWindowSpec, t: number): WindowSpan[] {
  if (spec.kind === 'calendar') {
    const p = calendarPeriodOf(spec.calendar, t);
    return [{ start: p.start, end: p.end }];
  }
  const { sizeMs, slideMs, offsetMs } = spec;
  const spans: WindowSpan[] = [];
  const last = Math.floor((t - offsetMs) / slideMs);
  for (let k = Math.floor((t - offsetMs - sizeMs) / slideMs) + 1; k <= last; k++) {
    const start = k * slideMs + offsetMs;
    spans.push({ start, end: start + sizeMs });
  }
  return spans;
}
