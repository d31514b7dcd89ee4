import { asyncScheduler, from, Observable, take, type ObservableInput, type SchedulerLike, type Subscription } from 'rxjs';
import { ensureError } from '../src/errors.js';
import { requireFunction, requireInt, requireNumber } from './internal/batch-validate.js';

/** One fetch's answer: the new items, the cursor after them, and whether to fetch again at once. */
export interface PollResult<I, C> {
  readonly items: readonly I[];
  readonly cursor: C;
  /** True when the source has more right now (a full page): the next fetch starts without waiting. */
  readonly more?: boolean | undefined;
}

/** Where polling starts and how its position is persisted. */
export interface PollCursorConfig<C> {
  /** The cursor when nothing was saved (e.g. `0` for "from the start"). */
  initial: C;
  /** Reads the saved cursor on subscribe; `undefined` means none. A failure counts as a failed poll. */
  load?: (() => ObservableInput<C | undefined>) | undefined;
  /** Persists the cursor after each fetch's items were emitted. A failure counts as a failed poll. */
  save?: ((cursor: C) => ObservableInput<unknown>) | undefined;
}

/** Config for {@link poll}. */
export interface PollConfig<C> {
  /** Time between the starts of two fetches, ms (a slow fetch delays the next; they never overlap). >= 0. */
  everyMs: number;
  cursor: PollCursorConfig<C>;
  /** Consecutive failed polls before the source errors with `PollFailedError`. Integer >= 1, default 5. */
  maxConsecutiveFailures?: number | undefined;
  /** Told about each failed poll (load, fetch or save) with the count of consecutive failures. */
  onError?: ((error: Error, consecutiveFailures: number) => void) | undefined;
  /** Scheduler for the waits. Default `asyncScheduler`. */
  scheduler?: SchedulerLike | undefined;
}

/** Polling failed `failures` times in a row; the last failure is the `cause`. */
export class PollFailedError extends Error {
  override readonly name = 'PollFailedError';
  constructor(
    readonly failures: number,
    options?: ErrorOptions,
  ) {
    super(`poll: ${failures} consecutive polls failed`, options);
  }
}

/**
 * A source that checks for changes on a schedule: on subscribe it loads the saved cursor, then
 * calls `fetch(cursor)` every `everyMs`, emits the returned items in order, saves the new cursor
 * and uses it for the next fetch. Fetches never overlap; with `more: true` the next one starts at
 * once (paging through a backlog).
 *
 * - Delivery is at-least-once: items are emitted before their cursor is saved, so a crash in
 *   between fetches them again after a restart.
 * - Holds: one fetch's items while they are emitted (size the page in `fetch`).
 * - Fails: a failed load, fetch (error, throw, or no result) or save is reported to `onError` and
 *   retried at the next tick from the last good cursor; after `maxConsecutiveFailures` in a row
 *   the source errors with `PollFailedError`. A throwing `onError` errors the source.
 * - Never completes on its own; unsubscribe to stop (an in-flight fetch is unsubscribed).
 *
 * ```ts
 * poll((since) => from(db.changesSince(since, 500)).pipe(map((rows) => ({ items: rows, cursor: rows.at(-1)?.rev ?? since, more: rows.length === 500 }))),
 *      { everyMs: 10_000, cursor: { initial: 0, load: () => kv.get('cursor'), save: (c) => kv.put('cursor', c) } })
 * ```
 * @throws InvalidConfigError at creation for a bad option.
 */
export function poll<I, C>(fetch: (cursor: C) => ObservableInput<PollResult<I, C>>, config: PollConfig<C>): Observable<I> {
  const component = 'poll';
  requireFunction(component, 'fetch', fetch);
  const everyMs = requireNumber(component, 'everyMs', config.everyMs, 0);
  const maxFailures = requireInt(component, 'maxConsecutiveFailures', config.maxConsecutiveFailures ?? 5, 1);
  const { initial, load, save } = config.cursor ?? ({} as PollCursorConfig<C>);
  const scheduler = config.scheduler ?? asyncScheduler;

  return new Observable<I>((subscriber) => {
    let cursor = initial;
    let failures = 0;
    let step: Subscription | undefined;
    let timer: Subscription | undefined;

    /** Runs `work` and calls `then` with its first value; any failure goes to `failed`. */
    const run = <V>(work: () => ObservableInput<V>, what: string, then: (value: V) => void): void => {
      let got = false;
      let input: ObservableInput<V>;
      try {
        input = work();
      } catch (err) {
        failed(err);
        return;
      }
      const sub = from(input)
        .pipe(take(1))
        .subscribe({
          next: (value) => {
            got = true;
            then(value);
          },
          error: failed,
          complete: () => {
            if (!got) failed(new Error(`${what} completed without a value`));
          },
        });
      // `then` may already have started the next step synchronously; keep that one.
      if (!sub.closed) step = sub;
    };

    const failed = (thrown: unknown): void => {
      failures++;
      const error = ensureError(thrown);
      try {
        config.onError?.(error, failures);
      } catch (err) {
        subscriber.error(err);
        return;
      }
      if (failures >= maxFailures) subscriber.error(new PollFailedError(failures, { cause: error }));
      else schedule(everyMs, loaded ? tick : start);
    };

    const schedule = (delayMs: number, next: () => void): void => {
      if (subscriber.closed) return;
      timer = scheduler.schedule(next, Math.max(0, delayMs));
    };

    let loaded = load === undefined;
    const start = (): void => {
      if (load === undefined) return tick();
      run(load, 'cursor.load', (saved) => {
        if (saved !== undefined) cursor = saved;
        loaded = true;
        tick();
      });
    };

    const tick = (): void => {
      const startedAt = scheduler.now();
      run(() => fetch(cursor), 'fetch', (result) => {
        for (const item of result.items) {
          if (subscriber.closed) return;
          subscriber.next(item);
        }
        if (subscriber.closed) return;
        cursor = result.cursor;
        const next = () => {
          failures = 0;
          schedule(result.more === true ? 0 : startedAt + everyMs - scheduler.now(), tick);
        };
        if (save === undefined) next();
        else run(() => save(result.cursor), 'cursor.save', next);
      });
    };

    start();
    return () => {
      timer?.unsubscribe();
      step?.unsubscribe();
    };
  });
}
