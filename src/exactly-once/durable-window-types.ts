import type { Envelope } from '../envelope/envelope.js';
import type { CalendarSpec } from '../../operators/internal/calendar-period.js';

/** How a durable window cuts event time (see the in-memory `window` operator's kinds). */
export type DurableWindowKind = 'tumbling' | 'sliding' | 'session' | 'calendar';

/**
 * How a durable window folds its events. Accumulators are stored in LMDB (msgpackr): keep them
 * plain data (numbers, strings, arrays, objects). `add` and `merge` must be deterministic: a
 * replay after a crash folds the same events again and must reach the same result.
 */
export interface DurableWindowAggregate<T, A> {
  seed: () => A;
  /** Returns the new accumulator; it gets a copy, so it may change `acc` and return it. */
  add: (acc: A, item: Envelope<T>) => A;
  /** Combines two partial results; required for session windows (sessions merge). */
  merge?: ((a: A, b: A) => A) | undefined;
}

/** How windows are cut and closed: what `t.durableWindow` and `durableWindowProcessor` share. */
export interface DurableWindowCut {
  kind: DurableWindowKind;
  /** Window length, ms (tumbling, sliding). */
  sizeMs?: number | undefined;
  /** Distance between window starts, ms (sliding); `<= sizeMs`. */
  slideMs?: number | undefined;
  /** A session ends after this long without an event of its key, ms (session). */
  gapMs?: number | undefined;
  /** Kind `calendar`: `{ unit: 'day' | 'week' | 'month', timeZone }` (DST-correct periods). */
  calendar?: CalendarSpec | undefined;
  /** Shifts tumbling/sliding boundaries from the epoch, ms. Default 0. */
  offsetMs?: number | undefined;
  /** How long after the watermark passes a window's end it still takes events, ms. Default 0. */
  allowedLatenessMs?: number | undefined;
  watermark?:
    | {
        /** The watermark trails the newest event time by this, ms. Default 0. */
        maxOutOfOrderMs?: number | undefined;
        /**
         * While windows are open and no value arrived for this long (processing time), the mount
         * writes an idle tick into the window's own stream and the watermark moves on by this much
         * when the processor reads it: the windows close when input stops, and at the same stream
         * position on every replay. Default: off.
         */
        idleAdvanceMs?: number | undefined;
      }
    | undefined;
  /** Open windows (over all keys) at most; an event that needs one more goes to the dead letters. Default 100000. */
  maxOpenWindows?: number | undefined;
}

/** A closed window as published on the result subject (msgpack). */
export interface DurableWindowResult<A> {
  readonly type: 'window';
  /** The durable window's name. */
  readonly window: string;
  readonly kind: DurableWindowKind;
  /** The key (`keyOf`); absent for an unkeyed window. */
  readonly key?: string;
  /** `[start, end)`, epoch ms. */
  readonly start: number;
  readonly end: number;
  /** Kind `calendar`: the period's local name, `2026-03`, `2026-03-29` or `2026-W13`. */
  readonly period?: string;
  /** Events folded in. */
  readonly count: number;
  readonly value: A;
  /** What moved the watermark past the window: an event, an idle tick or a `closes` message. */
  readonly closedBy: 'event' | 'idle' | 'close';
}

/** An event that arrived after (some of) its windows had closed, as published on the late subject (msgpack). */
export interface DurableLateRecord<T> {
  readonly type: 'late';
  readonly window: string;
  readonly key?: string;
  /** The subject the event first arrived on. */
  readonly subject: string;
  readonly eventTime: number;
  /** The watermark when it arrived. */
  readonly watermark: number;
  /** The closed windows it missed, `[start, end)` (it still joined its open ones, sliding windows). */
  readonly missed: readonly { readonly start: number; readonly end: number }[];
  readonly item: T;
}

/** What a running durable window counts since start (besides its engine's counters). */
export interface DurableWindowCounters {
  /** Windows emitted. */
  closed: number;
  /** Late records emitted. */
  late: number;
  /** Events dead-lettered (an aggregate threw, the open-window limit). */
  deadLettered: number;
  /** Idle ticks read. */
  ticks: number;
}
