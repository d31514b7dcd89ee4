import { calendarPeriodOf, type CalendarSpec } from '../../../operators/internal/calendar-period.js';

/** One message of a durable window's own stream, as the model and the tests see it. */
export type WindowInput =
  | { readonly type: 'value'; readonly id: string; readonly t: number; readonly key: string }
  | { readonly type: 'tick' }
  | { readonly type: 'close'; readonly t: number };

export interface ModelCut {
  readonly kind: 'tumbling' | 'sliding' | 'session' | 'calendar';
  readonly sizeMs: number;
  readonly slideMs: number;
  readonly gapMs: number;
  readonly calendar?: CalendarSpec;
  readonly allowedLatenessMs: number;
  readonly maxOutOfOrderMs: number;
  readonly idleAdvanceMs: number;
  readonly maxOpenWindows: number;
}

interface Win {
  key: string;
  start: number;
  end: number;
  ids: string[];
}

/**
 * A sequential reference model of a durable window, written for clarity: the outputs (in order) a
 * window must publish for a sequence of inputs, as short strings:
 * `window <key> <start> <end> <ids>`, `late <id> <missed starts>`, `dead <id>`.
 */
export function windowModel(cut: ModelCut, inputs: readonly WindowInput[]): string[] {
  const out: string[] = [];
  let open: Win[] = [];
  let mx: number | null = null;
  const wm = () => (mx === null ? -Infinity : mx - cut.maxOutOfOrderMs);
  const closed = (end: number, w: number) => end + cut.allowedLatenessMs <= w;
  const spansOf = (t: number): { start: number; end: number }[] => {
    if (cut.kind === 'calendar') return [calendarPeriodOf(cut.calendar!, t)];
    const spans = [];
    for (let start = Math.floor(t / cut.slideMs) * cut.slideMs; start > t - cut.sizeMs; start -= cut.slideMs) spans.unshift({ start, end: start + cut.sizeMs });
    return spans;
  };
  const closeDue = () => {
    const due = open.filter((w) => closed(w.end, wm())).sort((a, b) => a.end - b.end || a.start - b.start || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    open = open.filter((w) => !due.includes(w));
    for (const w of due) out.push(`window ${w.key} ${w.start} ${w.end} ${w.ids.join(',')}`);
  };
  for (const m of inputs) {
    if (m.type === 'value') {
      const next: number = mx === null ? m.t : Math.max(mx, m.t);
      const w = next - cut.maxOutOfOrderMs;
      if (cut.kind === 'session') {
        if (closed(m.t + cut.gapMs, w)) {
          mx = next;
          out.push(`late ${m.id} ${m.t}`);
          closeDue();
          continue;
        }
        const overlapping = open.filter((x) => x.key === m.key && x.start < m.t + cut.gapMs && m.t < x.end).sort((a, b) => a.start - b.start);
        if (overlapping.length === 0 && open.length + 1 > cut.maxOpenWindows) {
          out.push(`dead ${m.id}`);
          continue;
        }
        mx = next;
        open = open.filter((x) => !overlapping.includes(x));
        open.push({
          key: m.key,
          start: Math.min(m.t, ...overlapping.map((x) => x.start)),
          end: Math.max(m.t + cut.gapMs, ...overlapping.map((x) => x.end)),
          ids: [...overlapping.flatMap((x) => x.ids), m.id],
        });
        closeDue();
        continue;
      }
      const spans = spansOf(m.t);
      const missed = spans.filter((s) => closed(s.end, w));
      const joining = spans.filter((s) => !closed(s.end, w));
      const opening = joining.filter((s) => !open.some((x) => x.key === m.key && x.start === s.start));
      if (opening.length > 0 && open.length + opening.length > cut.maxOpenWindows) {
        out.push(`dead ${m.id}`);
        continue;
      }
      mx = next;
      for (const s of joining) {
        let win = open.find((x) => x.key === m.key && x.start === s.start);
        if (win === undefined) open.push((win = { key: m.key, start: s.start, end: s.end, ids: [] }));
        win.ids.push(m.id);
      }
      if (missed.length > 0) out.push(`late ${m.id} ${missed.map((s) => s.start).join(',')}`);
      closeDue();
    } else if (m.type === 'tick') {
      if (mx === null || open.length === 0) continue;
      mx += cut.idleAdvanceMs;
      closeDue();
    } else {
      const to = m.t + cut.maxOutOfOrderMs;
      if (mx !== null && to <= mx) continue;
      mx = to;
      closeDue();
    }
  }
  return out;
}
