import { asyncScheduler, isObservable, Observable, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import { BufferOverflowError, ensureError, InvalidConfigError } from '../src/errors.js';
import { reportBatch } from '../src/observe/batch-observer.js';
import { markStage } from '../src/observe/lineage.js';
import { operatorCounters } from '../src/observe/operator-stats.js';
import { InterruptedError } from '../src/settle/interrupted-error.js';
import { currentSettlement, withSettlement } from '../src/settle/settle-scope.js';
import { Settlement } from '../src/settle/settlement.js';
import { subscribeLinked } from './internal/subscribe-linked.js';
import { optionalNumber, requireInt, requireNumber } from './internal/validate-config.js';
import { WindowStore, type OpenWindow } from './internal/window-store.js';
import { validateCalendar, type CalendarSpec } from './internal/calendar-period.js';
import { windowSpansOf, type FixedWindowSpec } from './internal/window-spans.js';
import { settlingUpstream } from './internal/settling-upstream.js';

/**
 * How windows are cut: fixed and disjoint, fixed and overlapping, by gaps in activity, or by
 * calendar period (day, week, month) in a time zone.
 */
export type WindowKind = 'tumbling' | 'sliding' | 'session' | 'calendar';

/** Folds a window's items into one value instead of keeping them. */
export interface WindowAggregate<T, A> {
  seed: () => A;
  add: (acc: A, item: T) => A;
  /** Combines two partial results; required for session windows (sessions merge). */
  merge?: ((a: A, b: A) => A) | undefined;
}

/** Config for {@link window}. */
export interface WindowConfig<T, A = T[]> {
  kind: WindowKind;
  /** Window length, ms (tumbling, sliding). */
  sizeMs?: number | undefined;
  /** Distance between window starts, ms (sliding); windows overlap when < `sizeMs`. */
  slideMs?: number | undefined;
  /** A session ends after this long without an event of its key, ms (session). */
  gapMs?: number | undefined;
  /**
   * The period of a calendar window: `{ unit: 'day' | 'week' | 'month', timeZone: 'Europe/London' }`
   * (kind `calendar`). Periods start at local midnight (ISO weeks on Monday), DST included: a
   * late-March event is in March's window however many hours March has.
   */
  calendar?: CalendarSpec | undefined;
  /** How long after the watermark passes a window's end it still accepts events, ms. Default 0. */
  allowedLatenessMs?: number | undefined;
  watermark?:
    | {
        /** The watermark trails the newest event time by this, ms. Default 0. */
        maxOutOfOrderMs?: number | undefined;
        /**
         * When no event arrives for this long (processing time, on the scheduler), the watermark moves
         * on by the same amount, so windows close when input stops. Default: off.
         */
        idleAdvanceMs?: number | undefined;
        /**
         * Each value moves the watermark to at least its `eventTime`: windows close on a calendar.
         * Pass a `schedule(...)` (its runs carry their fire time as `eventTime`), e.g. close the
         * month's windows at 00:00 on the 3rd, London time, once late transactions are in.
         */
        advanceOn?: Observable<{ readonly eventTime: number }> | undefined;
      }
    | undefined;
  /** Window per key (customer, SKU). Default: one key for everything. */
  keyOf?: ((item: T) => string) | undefined;
  /** Fold items instead of collecting them; the result is `value`. Default: `value` is the items in arrival order. */
  aggregate?: WindowAggregate<T, A> | undefined;
  /** Shifts tumbling/sliding boundaries from the epoch, ms (e.g. a fixed time-zone offset). Default 0. */
  offsetMs?: number | undefined;
  /** Open windows at most; one more errors the output with `BufferOverflowError`. Default 100000. */
  maxOpenWindows?: number | undefined;
  /** Scheduler for the idle advance. Default `asyncScheduler`. */
  scheduler?: SchedulerLike | undefined;
}

/** A closed window: `[start, end)` in event time, ms. */
export interface WindowResult<A> {
  readonly type: 'window';
  readonly kind: WindowKind;
  readonly key?: string | undefined;
  readonly start: number;
  readonly end: number;
  readonly count: number;
  readonly value: A;
}

/**
 * An event that arrived after (some of) its windows closed. `missed` lists those windows; an event
 * without a finite `eventTime` has `missed: []`. Route these to a late/dead-letter subject.
 */
export interface LateEvent<T> {
  readonly type: 'late';
  readonly item: T;
  /** The watermark when it arrived. */
  readonly watermark: number;
  readonly missed: readonly { readonly start: number; readonly end: number }[];
}

export type WindowOutput<T, A = T[]> = WindowResult<A> | LateEvent<T>;

/**
 * Groups events into event-time windows (`eventTime`, epoch ms): tumbling (`sizeMs`), sliding
 * (`sizeMs` every `slideMs`), session (`gapMs` of inactivity closes a session) or calendar (the
 * day, ISO week or month in `calendar.timeZone` holding the event, DST-correct), optionally per
 * key. For windows that survive restarts, mount `t.durableWindow` instead. The watermark is the newest event time seen minus `maxOutOfOrderMs`; a window `[start,
 * end)` is emitted once, when the watermark reaches `end + allowedLatenessMs`.
 *
 * - Emits: `{ type: 'window', ... }` as the watermark passes each window (ordered by end, start,
 *   key); `{ type: 'late', ... }` at once for an event one of whose windows had already closed (it
 *   still joins its open windows). On completion every open window is emitted. Late events are
 *   never dropped silently: filter `type === 'late'` and route them (e.g. to a dead-letter subject).
 * - Holds: the open windows — their items, or one aggregate each with `aggregate` — bounded by
 *   `maxOpenWindows`. Roughly (maxOutOfOrderMs + allowedLatenessMs + sizeMs) / slideMs windows per key.
 * - Fails: source errors are forwarded (open windows are dropped, their inputs redelivered); a
 *   throwing `keyOf` or `aggregate` callback errors the output.
 * - Guarantee (at-least-once from a JetStream stream): each event's input stays unacknowledged
 *   until every window it joined has been emitted and the effects of that emission are complete
 *   (a sliding-window event settles after its last window); a window's downstream failure fails
 *   all its events' inputs (redelivered). A late event is emitted in its own input's scope, so it
 *   settles with what is done with it. Held events count against the stream's `maxUnsettled`:
 *   size it above the events of the open windows, and — on a settling source, required — set
 *   `watermark.idleAdvanceMs` (or `advanceOn`), so a stream that stopped delivering because
 *   windows hold `maxUnsettled` events still sees its windows close.
 * - Calendar: `watermark.advanceOn` (e.g. a `schedule`) moves the watermark to each value's
 *   `eventTime`, closing the windows that end by then (plus `allowedLatenessMs`).
 *
 * Session windows are not reopened: an event that would extend a session already emitted starts
 * a new one. The watermark lives in memory; after a restart it starts from the first event.
 *
 * ```ts
 * orders$.pipe(window({ kind: 'tumbling', sizeMs: 60_000, allowedLatenessMs: 5_000, watermark: { maxOutOfOrderMs: 2_000 } }))
 * ```
 * @throws InvalidConfigError at creation for a missing or bad option; when applied to a settling
 * source (a durable stream read, a poll) without `watermark.idleAdvanceMs`.
 */
export function window<T extends { readonly eventTime: number }, A = T[]>(config: WindowConfig<T, A>): OperatorFunction<T, WindowOutput<T, A>> {
  const c = 'window';
  const kind = config.kind;
  if (kind !== 'tumbling' && kind !== 'sliding' && kind !== 'session' && kind !== 'calendar') {
    throw new InvalidConfigError(c, 'kind', `must be 'tumbling', 'sliding', 'session' or 'calendar', got ${String(kind)}`);
  }
  const calendar = kind === 'calendar' ? validateCalendar(c, 'calendar', config.calendar) : undefined;
  const sizeMs = kind === 'session' || kind === 'calendar' ? 0 : requireNumber(c, 'sizeMs', config.sizeMs, Number.MIN_VALUE);
  const slideMs = kind === 'sliding' ? requireNumber(c, 'slideMs', config.slideMs, Number.MIN_VALUE) : sizeMs;
  if (slideMs > sizeMs) {
    // Events between two windows would belong to none and vanish.
    throw new InvalidConfigError(c, 'slideMs', `must be <= sizeMs (${sizeMs}) so every event has a window, got ${slideMs}`);
  }
  const gapMs = kind === 'session' ? requireNumber(c, 'gapMs', config.gapMs, Number.MIN_VALUE) : 0;
  const latenessMs = optionalNumber(c, 'allowedLatenessMs', config.allowedLatenessMs, 0) ?? 0;
  const outOfOrderMs = optionalNumber(c, 'watermark.maxOutOfOrderMs', config.watermark?.maxOutOfOrderMs, 0) ?? 0;
  const idleAdvanceMs = optionalNumber(c, 'watermark.idleAdvanceMs', config.watermark?.idleAdvanceMs, Number.MIN_VALUE);
  const offsetMs = optionalNumber(c, 'offsetMs', config.offsetMs, -Infinity) ?? 0;
  const maxOpen = requireInt(c, 'maxOpenWindows', config.maxOpenWindows ?? 100_000, 1);
  const aggregate = config.aggregate ?? (collectItems as unknown as WindowAggregate<T, A>);
  if (kind === 'session' && typeof aggregate.merge !== 'function') {
    throw new InvalidConfigError(c, 'aggregate.merge', 'is required for session windows (sessions merge)');
  }
  const spans: FixedWindowSpec =
    calendar !== undefined ? { kind: 'calendar', calendar } : { kind: kind === 'sliding' ? 'sliding' : 'tumbling', sizeMs, slideMs, offsetMs };
  const keyOf = config.keyOf;
  const scheduler = config.scheduler ?? asyncScheduler;
  const advanceOn = config.watermark?.advanceOn;
  if (advanceOn !== undefined && !isObservable(advanceOn))
    throw new InvalidConfigError(c, 'watermark.advanceOn', `must be an Observable of { eventTime }, got ${typeof advanceOn}`);
  const counters = operatorCounters(`window ${kind}`);

  return (source) => {
    const settling = settlingUpstream(source).sources[0];
    if (settling !== undefined && idleAdvanceMs === undefined && advanceOn === undefined) {
      throw new InvalidConfigError(
        c,
        'watermark.idleAdvanceMs',
        `is required on a settling source ('${settling.stream ?? settling.subject}') unless watermark.advanceOn is given: each event stays unacknowledged until its windows are emitted, so once maxUnsettled events are held the source stops delivering and only an idle or calendar advance moves the watermark on`,
      );
    }
    const output = new Observable<WindowOutput<T, A>>((subscriber) => {
      const store = new WindowStore<A>();
      let maxEventTime = -Infinity;
      let idleTimer: Subscription | undefined;
      const watermark = () => maxEventTime - outOfOrderMs;
      const closed = (end: number) => end + latenessMs <= watermark();

      // The window's events settle when the emission's effects do: the group holds them.
      const emit = (w: OpenWindow<A>) => {
        const group = Settlement.join(w.held);
        for (const h of w.held.splice(0)) h.release();
        counters.out++;
        counters.batch(w.count);
        reportBatch('window', kind, w.count);
        withSettlement(group, () => subscriber.next({ type: 'window', kind, key: w.key, start: w.start, end: w.end, count: w.count, value: w.acc }));
        group.release();
      };
      // A window dropped unemitted (the output closed mid-way): its events are delivered again.
      const drop = (w: OpenWindow<A>) => {
        for (const h of w.held.splice(0)) {
          h.fail(new InterruptedError(c, `stopped before the window [${w.start}, ${w.end}) holding this input was emitted`));
          h.release();
        }
      };
      const emitAll = (windows: readonly OpenWindow<A>[]) => {
        for (const w of windows) {
          if (subscriber.closed) drop(w);
          else emit(w);
        }
      };
      const closeDue = () => emitAll(store.takeClosed(watermark() - latenessMs));
      const open = (key: string | undefined, start: number, end: number): OpenWindow<A> => {
        if (store.size >= maxOpen) {
          throw new BufferOverflowError(c, maxOpen, `${store.size} windows open; lower allowedLatenessMs/maxOutOfOrderMs or raise maxOpenWindows`);
        }
        return store.add({ key, start, end, count: 0, acc: aggregate.seed(), held: [] });
      };
      const add = (w: OpenWindow<A>, item: T) => {
        w.acc = aggregate.add(w.acc, item);
        w.count++;
        const input = currentSettlement();
        if (input?.hold() === true) w.held.push(input);
      };

      const assignFixed = (item: T, key: string | undefined, t: number) => {
        let missed: { start: number; end: number }[] | undefined;
        for (const { start, end } of windowSpansOf(spans, t)) {
          if (closed(end)) (missed ??= []).push({ start, end });
          else add(store.get(key, start) ?? open(key, start, end), item);
        }
        return missed;
      };

      const assignSession = (item: T, key: string | undefined, t: number) => {
        if (closed(t + gapMs)) return [{ start: t, end: t + gapMs }];
        const merge = aggregate.merge as (a: A, b: A) => A;
        const overlapping = store.sessionsOverlapping(key, t, t + gapMs);
        let target = overlapping[0] ?? open(key, t, t + gapMs);
        // Sorted by start: the first has the earliest start, so partial results merge in time order.
        for (const other of overlapping.slice(1)) {
          store.remove(other);
          target.acc = merge(target.acc, other.acc);
          target.count += other.count;
          target.held.push(...other.held);
          target = store.reshape(target, target.start, Math.max(target.end, other.end));
        }
        target = store.reshape(target, Math.min(target.start, t), Math.max(target.end, t + gapMs));
        add(target, item);
        return undefined;
      };

      const armIdle = () => {
        if (idleAdvanceMs === undefined) return;
        idleTimer?.unsubscribe();
        idleTimer = undefined;
        if (store.size === 0 || subscriber.closed) return;
        idleTimer = scheduler.schedule(() => {
          maxEventTime += idleAdvanceMs;
          closeDue();
          armIdle();
        }, idleAdvanceMs);
      };

      subscriber.add(() => {
        idleTimer?.unsubscribe();
        for (const w of store.all()) drop(w);
      });
      if (advanceOn !== undefined) {
        subscriber.add(
          advanceOn.subscribe({
            next: (tick) => {
              const to = tick.eventTime + outOfOrderMs;
              if (!(to > maxEventTime)) return;
              maxEventTime = to;
              closeDue();
              armIdle();
            },
            error: (err: unknown) => subscriber.error(err),
          }),
        );
      }
      subscribeLinked(source, subscriber, {
        next: (item) => {
          counters.in++;
          try {
            const t = item.eventTime;
            if (typeof t !== 'number' || !Number.isFinite(t)) {
              counters.out++;
              subscriber.next({ type: 'late', item, watermark: watermark(), missed: [] });
              return;
            }
            if (t > maxEventTime) maxEventTime = t;
            const key = keyOf?.(item);
            const missed = kind === 'session' ? assignSession(item, key, t) : assignFixed(item, key, t);
            if (missed !== undefined) {
              counters.out++;
              subscriber.next({ type: 'late', item, watermark: watermark(), missed });
            }
            closeDue();
            armIdle();
          } catch (err) {
            currentSettlement()?.fail(ensureError(err));
            subscriber.error(err);
          }
        },
        error: (err) => subscriber.error(err),
        complete: () => {
          emitAll(store.takeClosed(Infinity));
          subscriber.complete();
        },
      });
    });
    return markStage(output, source, { name: `window:${kind}`, effect: 'groups' });
  };
}

const collectItems: WindowAggregate<unknown, unknown[]> = {
  seed: () => [],
  add: (acc, item) => {
    acc.push(item);
    return acc;
  },
  merge: (a, b) => a.concat(b),
};
