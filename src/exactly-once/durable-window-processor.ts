import { validateCalendar } from '../../operators/internal/calendar-period.js';
import { optionalNumber, requireInt, requireNumber } from '../../operators/internal/validate-config.js';
import { windowSpansOf, type FixedWindowSpec, type WindowSpan } from '../../operators/internal/window-spans.js';
import { calendarPeriodOf } from '../../operators/internal/calendar-period.js';
import { codecFor } from '../codec/codec-for.js';
import { msgpackCodec } from '../codec/msgpack-codec.js';
import { deadLetterMessage } from '../dead-letter/dead-letter-message.js';
import { HEADERS, type Envelope } from '../envelope/envelope.js';
import { BufferOverflowError, DecodeError, InvalidConfigError } from '../errors.js';
import type { StreamMessage } from '../transport/transport.js';
import { DurableWindowState, type StoredWindow, type WindowMeta } from './durable-window-state.js';
import type {
  DurableLateRecord,
  DurableWindowAggregate,
  DurableWindowCounters,
  DurableWindowCut,
  DurableWindowKind,
  DurableWindowResult,
} from './durable-window-types.js';
import type { BatchProcessor } from './types.js';

/** A validated {@link DurableWindowCut}. */
export interface ResolvedWindowCut {
  readonly kind: DurableWindowKind;
  /** Tumbling, sliding and calendar windows; undefined for sessions. */
  readonly spans: FixedWindowSpec | undefined;
  readonly gapMs: number;
  readonly allowedLatenessMs: number;
  readonly maxOutOfOrderMs: number;
  readonly idleAdvanceMs: number | undefined;
  readonly maxOpenWindows: number;
}

/**
 * Checks how a durable window cuts and closes, once, when it is configured.
 * @throws InvalidConfigError naming the field and the value.
 */
export function resolveWindowCut(component: string, cut: DurableWindowCut, aggregate: DurableWindowAggregate<unknown, unknown> | undefined): ResolvedWindowCut {
  const kind = cut.kind;
  if (kind !== 'tumbling' && kind !== 'sliding' && kind !== 'session' && kind !== 'calendar') {
    throw new InvalidConfigError(component, 'kind', `must be 'tumbling', 'sliding', 'session' or 'calendar', got ${String(kind)}`);
  }
  if (aggregate === undefined || typeof aggregate.seed !== 'function' || typeof aggregate.add !== 'function') {
    throw new InvalidConfigError(
      component,
      'aggregate',
      'must be { seed, add, merge? }: a durable window folds its events (to keep every event, use a durable batch)',
    );
  }
  if (kind === 'session' && typeof aggregate.merge !== 'function')
    throw new InvalidConfigError(component, 'aggregate.merge', 'is required for session windows (sessions merge)');
  let spans: FixedWindowSpec | undefined;
  let gapMs = 0;
  if (kind === 'calendar') spans = { kind, calendar: validateCalendar(component, 'calendar', cut.calendar) };
  else if (kind === 'session') gapMs = requireNumber(component, 'gapMs', cut.gapMs, Number.MIN_VALUE);
  else {
    const sizeMs = requireNumber(component, 'sizeMs', cut.sizeMs, Number.MIN_VALUE);
    const slideMs = kind === 'sliding' ? requireNumber(component, 'slideMs', cut.slideMs, Number.MIN_VALUE) : sizeMs;
    // Events between two windows would belong to none and vanish.
    if (slideMs > sizeMs) throw new InvalidConfigError(component, 'slideMs', `must be <= sizeMs (${sizeMs}) so every event has a window, got ${slideMs}`);
    spans = { kind, sizeMs, slideMs, offsetMs: optionalNumber(component, 'offsetMs', cut.offsetMs, -Infinity) ?? 0 };
  }
  return {
    kind,
    spans,
    gapMs,
    allowedLatenessMs: optionalNumber(component, 'allowedLatenessMs', cut.allowedLatenessMs, 0) ?? 0,
    maxOutOfOrderMs: optionalNumber(component, 'watermark.maxOutOfOrderMs', cut.watermark?.maxOutOfOrderMs, 0) ?? 0,
    idleAdvanceMs: optionalNumber(component, 'watermark.idleAdvanceMs', cut.watermark?.idleAdvanceMs, 1),
    maxOpenWindows: requireInt(component, 'maxOpenWindows', cut.maxOpenWindows ?? 100_000, 1),
  };
}

/** Options of {@link durableWindowProcessor}. */
export interface DurableWindowProcessorConfig<T, A> {
  /** The window's name: its LMDB namespace `window.<name>` and the `window` field of what it publishes. */
  readonly name: string;
  readonly cut: ResolvedWindowCut;
  readonly aggregate: DurableWindowAggregate<T, A>;
  /** Subjects of its own stream: values (event time and key in headers), idle ticks, closes (event time in a header). */
  readonly subjects: { readonly values: string; readonly tick: string; readonly close: string };
  readonly resultSubject: string;
  readonly lateSubject: string;
  readonly deadLetterSubject: string;
  /** Dead-letter records are cut to fit this. Default 1 MiB. */
  readonly maxPayloadBytes?: number | undefined;
  /** Stamps dead letters. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
  /** Counted after each commit. */
  readonly counters?: DurableWindowCounters | undefined;
  /** After each commit: the committed clock and open windows, and whether the batch held values. */
  readonly onCommitted?: ((meta: WindowMeta, values: number) => void) | undefined;
}

/**
 * The durable window as a processor of the exactly-once engine, reading its own stream: each value
 * is folded into the windows of its key and event time, the watermark (newest event time −
 * `maxOutOfOrderMs`) moves on with values, idle ticks (`+ idleAdvanceMs`) and closes (to their
 * event time), and every window whose end + `allowedLatenessMs` the watermark has reached is
 * published on `resultSubject` and removed — all through the engine's transaction, so windows,
 * watermark and outputs commit with the input position and a replay after a crash cuts the same
 * windows and publishes them under the same ids. An event one of whose windows had closed is
 * published on `lateSubject` with the windows it missed; an event that cannot be folded (its
 * `add` throws, or it would open a window past `maxOpenWindows`) goes to `deadLetterSubject`.
 * Every output is emitted against the input that caused it (ids `<topology>.<engine>.<seq>.<i>`).
 */
export function durableWindowProcessor<T, A>(config: DurableWindowProcessorConfig<T, A>): BatchProcessor {
  const { name, cut, aggregate, subjects } = config;
  const ns = `window.${name}`;
  const operator = `durableWindow:${name}`;
  const now = config.now ?? Date.now;
  const merge = aggregate.merge as (a: A, b: A) => A;
  const encode = (v: unknown): Uint8Array => msgpackCodec.encode(v);
  const outHeaders = { [HEADERS.contentType]: msgpackCodec.contentType };

  return (batch, txn) => {
    const state = new DurableWindowState<A>(txn, ns);
    const counted = { closed: 0, late: 0, deadLettered: 0, ticks: 0 };
    let values = 0;
    const watermarkOf = (maxEventTime: number | null): number => (maxEventTime === null ? -Infinity : maxEventTime - cut.maxOutOfOrderMs);
    const isClosed = (end: number, watermark: number): boolean => end + cut.allowedLatenessMs <= watermark;

    const closeDue = (m: StreamMessage, closedBy: DurableWindowResult<A>['closedBy']): void => {
      const cutAt = watermarkOf(state.meta.maxEventTime) - cut.allowedLatenessMs;
      const ends = state.ends();
      while (ends.length > 0 && ends[0]! <= cutAt) {
        const end = ends[0]!;
        const due: { key: string; w: StoredWindow<A> }[] = [];
        for (const key of state.keysEndingAt(end)) {
          const w = state.windowsOf(key).find((x) => x.end === end);
          if (w !== undefined) due.push({ key, w });
        }
        due.sort((a, b) => a.w.start - b.w.start || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
        for (const { key, w } of due) {
          txn.emit(m, config.resultSubject, encode(resultOf(key, w, closedBy)), outHeaders);
          state.setWindows(
            key,
            state.windowsOf(key).filter((x) => x !== w),
          );
          counted.closed++;
        }
        // An index entry without its window (never written so): dropped, so the loop ends.
        if (ends[0] === end) state.dropFirstEnd();
      }
    };

    const resultOf = (key: string, w: StoredWindow<A>, closedBy: DurableWindowResult<A>['closedBy']): DurableWindowResult<A> => ({
      type: 'window',
      window: name,
      kind: cut.kind,
      ...(key !== '' ? { key } : {}),
      start: w.start,
      end: w.end,
      ...(cut.spans?.kind === 'calendar' ? { period: calendarPeriodOf(cut.spans.calendar, w.start).label } : {}),
      count: w.count,
      value: w.acc,
      closedBy,
    });

    const deadLetter = (m: StreamMessage, item: Envelope<unknown>, err: unknown): void => {
      const { payload, headers } = deadLetterMessage({ ...item, raw: m.data }, err, {
        operator,
        failedAt: now(),
        maxBytes: config.maxPayloadBytes ?? 1024 * 1024,
      });
      txn.emit(m, config.deadLetterSubject, payload, headers);
      counted.deadLettered++;
    };

    const fold = (acc: A, item: Envelope<T>): A => aggregate.add(structuredClone(acc), item);

    /** Joins the event to its windows; returns the windows it missed, or throws (nothing changed then). */
    const assign = (key: string, t: number, item: Envelope<T>, watermark: number): WindowSpan[] => {
      const current = state.windowsOf(key);
      if (cut.spans !== undefined) {
        const missed: WindowSpan[] = [];
        const next = [...current];
        let opened = 0;
        let joined = 0;
        for (const span of windowSpansOf(cut.spans, t)) {
          if (isClosed(span.end, watermark)) {
            missed.push(span);
            continue;
          }
          const at = next.findIndex((w) => w.start === span.start);
          const w = at >= 0 ? next[at]! : (opened++, { start: span.start, end: span.end, count: 0, acc: aggregate.seed() });
          joined++;
          const updated = { start: w.start, end: w.end, count: w.count + 1, acc: fold(w.acc, item) };
          if (at >= 0) next[at] = updated;
          else next.push(updated);
        }
        checkLimit(opened);
        if (joined > 0) state.setWindows(key, next);
        return missed;
      }
      const to = t + cut.gapMs;
      if (isClosed(to, watermark)) return [{ start: t, end: to }];
      const overlapping = current.filter((w) => w.start < to && t < w.end);
      if (overlapping.length === 0) checkLimit(1);
      // By start: partial results merge in time order.
      let acc: A | undefined;
      let start = t;
      let end = to;
      let count = 0;
      for (const w of overlapping) {
        acc = acc === undefined ? structuredClone(w.acc) : merge(acc, w.acc);
        start = Math.min(start, w.start);
        end = Math.max(end, w.end);
        count += w.count;
      }
      const joined = { start, end, count: count + 1, acc: fold(acc ?? aggregate.seed(), item) };
      state.setWindows(key, [...current.filter((w) => !overlapping.includes(w)), joined]);
      return [];
    };

    const checkLimit = (opening: number): void => {
      if (opening > 0 && state.meta.open + opening > cut.maxOpenWindows) {
        throw new BufferOverflowError(
          operator,
          cut.maxOpenWindows,
          `${state.meta.open} windows open; raise maxOpenWindows, or lower allowedLatenessMs / watermark.maxOutOfOrderMs so windows close sooner`,
        );
      }
    };

    for (const m of batch) {
      if (m.subject === subjects.values) {
        values++;
        const t = Number(m.headers[HEADERS.eventTime]);
        const key = m.headers[HEADERS.key] ?? '';
        let item: Envelope<T>;
        try {
          const codec = codecFor(m.headers[HEADERS.contentType]);
          if (codec === undefined)
            throw new DecodeError({ subject: m.subject, stream: m.stream, seq: m.seq }, m.headers[HEADERS.contentType] ?? '', 'no codec for this content type');
          item = {
            subject: m.headers[HEADERS.originSubject] ?? m.subject,
            data: codec.decode(m.data) as T,
            headers: m.headers,
            id: m.id,
            eventTime: t,
            stream: m.stream,
            seq: m.seq,
            ...(key !== '' ? { key } : {}),
          };
        } catch (err) {
          deadLetter(m, { ...m, data: m.data }, err);
          continue;
        }
        const before = state.meta.maxEventTime;
        const maxEventTime = Number.isFinite(t) ? (before === null ? t : Math.max(before, t)) : before;
        let missed: WindowSpan[];
        try {
          if (!Number.isFinite(t)) throw new InvalidConfigError(operator, 'eventTime', `must give a finite epoch ms, got ${m.headers[HEADERS.eventTime]}`);
          missed = assign(key, t, item, watermarkOf(maxEventTime));
        } catch (err) {
          deadLetter(m, item, err);
          continue;
        }
        state.meta = { ...state.meta, maxEventTime };
        if (missed.length > 0) {
          const late: DurableLateRecord<unknown> = {
            type: 'late',
            window: name,
            ...(key !== '' ? { key } : {}),
            subject: item.subject,
            eventTime: t,
            watermark: watermarkOf(maxEventTime),
            missed,
            item: item.data,
          };
          txn.emit(m, config.lateSubject, encode(late), outHeaders);
          counted.late++;
        }
        closeDue(m, 'event');
      } else if (m.subject === subjects.tick) {
        counted.ticks++;
        const { maxEventTime, open } = state.meta;
        // As the in-memory window: an idle advance only while windows are open.
        if (maxEventTime === null || open === 0 || cut.idleAdvanceMs === undefined) continue;
        state.meta = { ...state.meta, maxEventTime: maxEventTime + cut.idleAdvanceMs };
        closeDue(m, 'idle');
      } else if (m.subject === subjects.close) {
        const t = Number(m.headers[HEADERS.eventTime]);
        if (!Number.isFinite(t)) continue;
        const to = t + cut.maxOutOfOrderMs;
        const { maxEventTime } = state.meta;
        if (maxEventTime !== null && to <= maxEventTime) continue;
        state.meta = { ...state.meta, maxEventTime: to };
        closeDue(m, 'close');
      }
    }
    state.save();
    const meta = state.meta;
    txn.afterCommit?.(() => {
      const c = config.counters;
      if (c !== undefined) {
        c.closed += counted.closed;
        c.late += counted.late;
        c.deadLettered += counted.deadLettered;
        c.ticks += counted.ticks;
      }
      config.onCommitted?.(meta, values);
    });
  };
}
