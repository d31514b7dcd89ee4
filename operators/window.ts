import { asyncScheduler, Observable, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import { BufferOverflowError, InvalidConfigError } from '../src/errors.js';
import { subscribeLinked } from './internal/batch-subscribe-linked.js';
import { optionalNumber, requireInt, requireNumber } from './internal/batch-validate.js';
import { WindowStore, type OpenWindow } from './internal/batch-window-store.js';

/** How windows are cut: fixed and disjoint, fixed and overlapping, or by gaps in activity. */
export type WindowKind = 'tumbling' | 'sliding' | 'session';

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
  /** How long after the watermark passes a window's end it still accepts events, ms. Default 0. */
  allowedLatenessMs?: number | undefined;
  watermark?: {
    /** The watermark trails the newest event time by this, ms. Default 0. */
    maxOutOfOrderMs?: number | undefined;
    /**
     * When no event arrives for this long (processing time, on the scheduler), the watermark moves
     * on by the same amount, so windows close when input stops. Default: off.
     */
    idleAdvanceMs?: number | undefined;
  } | undefined;
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
 * (`sizeMs` every `slideMs`) or session (`gapMs` of inactivity closes a session), optionally per
 * key. The watermark is the newest event time seen minus `maxOutOfOrderMs`; a window `[start,
 * end)` is emitted once, when the watermark reaches `end + allowedLatenessMs`.
 *
 * - Emits: `{ type: 'window', ... }` as the watermark passes each window (ordered by end, start,
 *   key); `{ type: 'late', ... }` at once for an event one of whose windows had already closed (it
 *   still joins its open windows). On completion every open window is emitted. Late events are
 *   never dropped silently: filter `type === 'late'` and route them (e.g. to a dead-letter subject).
 * - Holds: the open windows — their items, or one aggregate each with `aggregate` — bounded by
 *   `maxOpenWindows`. Roughly (maxOutOfOrderMs + allowedLatenessMs + sizeMs) / slideMs windows per key.
 * - Fails: source errors are forwarded (open windows are dropped); a throwing `keyOf` or
 *   `aggregate` callback errors the output.
 *
 * Session windows are not reopened: an event that would extend a session already emitted starts
 * a new one. The watermark lives in memory; after a restart it starts from the first event.
 *
 * ```ts
 * orders$.pipe(window({ kind: 'tumbling', sizeMs: 60_000, allowedLatenessMs: 5_000, watermark: { maxOutOfOrderMs: 2_000 } }))
 * ```
 * @throws InvalidConfigError at creation for a missing or bad option.
 */
export function window<T extends { readonly eventTime: number }, A = T[]>(config: WindowConfig<T, A>): OperatorFunction<T, WindowOutput<T, A>> {
  const c = 'window';
  const kind = config.kind;
  if (kind !== 'tumbling' && kind !== 'sliding' && kind !== 'session') {
    throw new InvalidConfigError(c, 'kind', `must be 'tumbling', 'sliding' or 'session', got ${String(kind)}`);
  }
  const sizeMs = kind === 'session' ? 0 : requireNumber(c, 'sizeMs', config.sizeMs, Number.MIN_VALUE);
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
  const keyOf = config.keyOf;
  const scheduler = config.scheduler ?? asyncScheduler;

  return (source) =>
    new Observable<WindowOutput<T, A>>((subscriber) => {
      const store = new WindowStore<A>();
      let maxEventTime = -Infinity;
      let idleTimer: Subscription | undefined;
      const watermark = () => maxEventTime - outOfOrderMs;
      const closed = (end: number) => end + latenessMs <= watermark();

      const emit = (w: OpenWindow<A>) =>
        subscriber.next({ type: 'window', kind, key: w.key, start: w.start, end: w.end, count: w.count, value: w.acc });
      const closeDue = () => {
        for (const w of store.takeClosed(watermark() - latenessMs)) {
          if (subscriber.closed) return;
          emit(w);
        }
      };
      const open = (key: string | undefined, start: number, end: number): OpenWindow<A> => {
        if (store.size >= maxOpen) {
          throw new BufferOverflowError(c, maxOpen, `${store.size} windows open; lower allowedLatenessMs/maxOutOfOrderMs or raise maxOpenWindows`);
        }
        return store.add({ key, start, end, count: 0, acc: aggregate.seed() });
      };
      const add = (w: OpenWindow<A>, item: T) => {
        w.acc = aggregate.add(w.acc, item);
        w.count++;
      };

      // The windows of t are those starting at k * slideMs + offsetMs with start <= t < start + sizeMs.
      const assignFixed = (item: T, key: string | undefined, t: number) => {
        let missed: { start: number; end: number }[] | undefined;
        const last = Math.floor((t - offsetMs) / slideMs);
        for (let k = Math.floor((t - offsetMs - sizeMs) / slideMs) + 1; k <= last; k++) {
          const start = k * slideMs + offsetMs;
          const end = start + sizeMs;
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

      subscriber.add(() => idleTimer?.unsubscribe());
      subscribeLinked(source, subscriber, {
        next: (item) => {
          try {
            const t = item.eventTime;
            if (typeof t !== 'number' || !Number.isFinite(t)) {
              subscriber.next({ type: 'late', item, watermark: watermark(), missed: [] });
              return;
            }
            if (t > maxEventTime) maxEventTime = t;
            const key = keyOf?.(item);
            const missed = kind === 'session' ? assignSession(item, key, t) : assignFixed(item, key, t);
            if (missed !== undefined) subscriber.next({ type: 'late', item, watermark: watermark(), missed });
            closeDue();
            armIdle();
          } catch (err) {
            subscriber.error(err);
          }
        },
        error: (err) => subscriber.error(err),
        complete: () => {
          for (const w of store.takeClosed(Infinity)) {
            if (subscriber.closed) return;
            emit(w);
          }
          subscriber.complete();
        },
      });
    });
}

const collectItems: WindowAggregate<unknown, unknown[]> = {
  seed: () => [],
  add: (acc, item) => {
    acc.push(item);
    return acc;
  },
  merge: (a, b) => a.concat(b),
};
