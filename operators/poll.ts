import { asyncScheduler, from, Observable, take, type ObservableInput, type SchedulerLike, type Subscription } from 'rxjs';
import { ensureError, InvalidConfigError } from '../src/errors.js';
import { markSource } from '../src/observe/lineage.js';
import { operatorCounters } from '../src/observe/operator-stats.js';
import { withSettlement } from '../src/settle/settle-scope.js';
import { Settlement } from '../src/settle/settlement.js';
import { requireFunction, requireInt, requireName, requireNumber } from './internal/validate-config.js';

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
  /**
   * Persists the cursor once the effects of the items fetched before it are complete (see
   * {@link poll}). A failure counts as a failed poll.
   */
  save?: ((cursor: C) => ObservableInput<unknown>) | undefined;
}

/** Config for {@link poll}. */
export interface PollConfig<C> {
  /** Time between the starts of two fetches, ms (a slow fetch delays the next; they never overlap). >= 0. */
  everyMs: number;
  cursor: PollCursorConfig<C>;
  /**
   * Names the poll in settlement keys (`poll:<name>:<cursor>`), output ids and `describe`.
   * Required with `deterministic`. Default `'poll'`.
   */
  name?: string | undefined;
  /**
   * True when `fetch(c)` returns the same items in the same order every time it is called with
   * the same cursor `c` — an append-only log read by position (a stream sequence, an event id
   * that is never reused or committed out of order). Then a round's outputs get deterministic
   * ids and a durable sink drops the re-publishes of a round fetched again after a crash
   * (exactly-once within the duplicate window). Wrong for cursors over rows that change
   * (`updated_at`) or appear below the cursor later: a re-read would number other rows under
   * the same ids, and the sink would drop them as duplicates. Default false (at-least-once).
   */
  deterministic?: boolean | undefined;
  /**
   * Rounds (one fetch's items) whose effects are not complete yet, at most; the next fetch waits
   * for the oldest to settle. Cursors are saved in fetch order whatever the order rounds settle
   * in. Integer >= 1, default 1.
   */
  maxUnsettledRounds?: number | undefined;
  /** Consecutive failed polls before the source errors with `PollFailedError`. Integer >= 1, default 5. */
  maxConsecutiveFailures?: number | undefined;
  /** Told about each failed poll (load, fetch, save, or a round whose effects failed) with the count of consecutive failures. */
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

/** One fetch's items, from cursor `before` to `after`, until its settlement settles and it is saved. */
interface Round<C> {
  readonly before: C;
  readonly after: C;
  settled: boolean;
  /** Not every item was emitted (the consumer unsubscribed): never saved. */
  abandoned: boolean;
  /** Fetched again after an earlier failure: its settlement no longer counts. */
  dropped: boolean;
}

/**
 * A source that checks for changes on a schedule: on subscribe it loads the saved cursor, then
 * calls `fetch(cursor)` every `everyMs` and emits the returned items in order. Fetches never
 * overlap; with `more: true` the next one starts at once (paging through a backlog).
 *
 * - Guarantee: at-least-once. Each fetch is a round with its own settlement: its items are
 *   emitted in the round's scope, so settle-aware stages downstream (`settleMap`, a durable
 *   sink, `batchUntil`) hold the round until the items' effects are complete. Only then is the
 *   round's cursor saved — and rounds are saved in fetch order, so a later round's cursor never
 *   passes an earlier round whose effects are still running. A crash or restart re-fetches from
 *   the last saved cursor. A bare async stage (`mergeMap` over a promise) downstream does not
 *   hold the round: the cursor is then saved before its effects (at-most-once; use `settleMap`).
 * - Holds: at most `maxUnsettledRounds` fetches' items whose effects are not complete; the next
 *   fetch waits (size the page in `fetch`).
 * - Fails: a failed load, fetch (error, throw, or no result) or save, or a round whose effects
 *   failed, is reported to `onError` and retried at the next tick: a failed round and every round
 *   after it are fetched again from the failed round's cursor (their items are emitted again).
 *   After `maxConsecutiveFailures` in a row the source errors with `PollFailedError`. A
 *   throwing `onError` errors the source.
 * - Never completes on its own; unsubscribe to stop (an in-flight fetch is unsubscribed; a round
 *   not fully emitted is not saved).
 *
 * ```ts
 * poll((since) => from(db.changesSince(since, 500)).pipe(map((rows) => ({ items: rows, cursor: rows.at(-1)?.rev ?? since, more: rows.length === 500 }))),
 *      { name: 'crm-changes', everyMs: 10_000, cursor: { initial: 0, load: () => kv.get('cursor'), save: (c) => kv.put('cursor', c) } })
 *   .pipe(settleMap({ name: 'erp', project: (row) => postToErp(row) }))
 * ```
 * @throws InvalidConfigError at creation for a bad option.
 */
export function poll<I, C>(fetch: (cursor: C) => ObservableInput<PollResult<I, C>>, config: PollConfig<C>): Observable<I> {
  const component = 'poll';
  requireFunction(component, 'fetch', fetch);
  const everyMs = requireNumber(component, 'everyMs', config.everyMs, 0);
  const maxFailures = requireInt(component, 'maxConsecutiveFailures', config.maxConsecutiveFailures ?? 5, 1);
  const maxRounds = requireInt(component, 'maxUnsettledRounds', config.maxUnsettledRounds ?? 1, 1);
  if (config.name !== undefined) requireName(component, 'name', config.name);
  if (config.deterministic === true && config.name === undefined) {
    throw new InvalidConfigError(component, 'name', 'is required with deterministic: true (output ids are derived from it; two polls must not share them)');
  }
  const name = config.name ?? 'poll';
  const deterministic = config.deterministic === true;
  const { initial, load, save } = config.cursor ?? ({} as PollCursorConfig<C>);
  const scheduler = config.scheduler ?? asyncScheduler;
  // in: items fetched; out: items emitted; batches: rounds and their sizes; unsettled: items emitted, not yet settled; failures: failed fetches and loads.
  const counters = operatorCounters(`poll ${name}`, 'source');
  counters.unsettled = 0;
  counters.failures = 0;

  const polled = new Observable<I>((subscriber) => {
    let cursor = initial;
    let failures = 0;
    let loaded = load === undefined;
    let fetchSub: Subscription | undefined;
    let saveSub: Subscription | undefined;
    let timer: Subscription | undefined;
    let blocked = false;
    const rounds: Round<C>[] = [];
    let saving = false;
    let toSave: { cursor: C } | undefined;

    /** Counts a failed poll; false when the source gave up (errored). */
    const report = (thrown: unknown): boolean => {
      failures++;
      counters.failures!++;
      const error = ensureError(thrown);
      try {
        config.onError?.(error, failures);
      } catch (err) {
        subscriber.error(err);
        return false;
      }
      if (failures < maxFailures) return true;
      subscriber.error(new PollFailedError(failures, { cause: error }));
      return false;
    };

    const scheduleTick = (delayMs: number): void => {
      timer?.unsubscribe();
      timer = subscriber.closed ? undefined : scheduler.schedule(loaded ? tick : start, Math.max(0, delayMs));
    };

    /** Runs `work`, calling `then` with its first value or `failed` with why it gave none. */
    const run = <V>(work: () => ObservableInput<V>, what: string, then: (value: V) => void, failed: (err: unknown) => void): Subscription | undefined => {
      let got = false;
      let input: ObservableInput<V>;
      try {
        input = work();
      } catch (err) {
        failed(err);
        return undefined;
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
      return sub.closed ? undefined : sub;
    };

    const start = (): void => {
      if (load === undefined) return tick();
      fetchSub = run(
        load,
        'cursor.load',
        (saved) => {
          if (saved !== undefined) cursor = saved;
          loaded = true;
          tick();
        },
        (err) => report(err) && scheduleTick(everyMs),
      );
    };

    const tick = (): void => {
      timer = undefined;
      if (rounds.length >= maxRounds) {
        blocked = true;
        return;
      }
      const startedAt = scheduler.now();
      const before = cursor;
      fetchSub = run(
        () => fetch(before),
        'fetch',
        (result) => emitRound(before, result, startedAt),
        (err) => report(err) && scheduleTick(everyMs),
      );
    };

    const emitRound = (before: C, result: PollResult<I, C>, startedAt: number): void => {
      const round: Round<C> = { before, after: result.cursor, settled: false, abandoned: false, dropped: false };
      rounds.push(round);
      cursor = result.cursor;
      counters.in += result.items.length;
      counters.batch(result.items.length);
      const key = cursorKey(before);
      const settlement = new Settlement(`poll:${name}:${key ?? '?'}`, deterministic && key !== undefined, (failure) => roundSettled(round, failure));
      // Each item in its own settlement, held by the round: outputs are numbered per item, so
      // their ids stay the same however a concurrent stage downstream reorders a round's items.
      result.items.forEach((item, i) => {
        if (subscriber.closed || round.dropped || !settlement.hold()) return;
        const one = new Settlement(`${settlement.key}:${i}`, settlement.replayStable, (failure) => {
          counters.unsettled!--;
          if (failure !== undefined) settlement.fail(failure);
          settlement.release();
        });
        counters.out++;
        counters.unsettled!++;
        withSettlement(one, () => subscriber.next(item));
        one.release();
      });
      // Unsubscribed mid-round: items after that point were never emitted, so it is never saved.
      if (subscriber.closed) round.abandoned = true;
      settlement.release();
      if (!subscriber.closed && !round.dropped) scheduleTick(result.more === true ? 0 : startedAt + everyMs - scheduler.now());
    };

    const roundSettled = (round: Round<C>, failure: Error | undefined): void => {
      if (round.dropped) return;
      if (failure !== undefined) return roundFailed(round, failure);
      round.settled = true;
      let last: Round<C> | undefined;
      while (rounds[0]?.settled === true) {
        const r = rounds.shift()!;
        if (r.abandoned) {
          rounds.length = 0;
          break;
        }
        last = r;
      }
      if (last !== undefined) commit(last.after);
      if (blocked && rounds.length < maxRounds) {
        blocked = false;
        scheduleTick(0);
      }
    };

    // The round's effects failed: it and every later round are fetched again from its cursor.
    const roundFailed = (round: Round<C>, failure: Error): void => {
      const at = rounds.indexOf(round);
      for (const r of rounds.splice(at)) r.dropped = true;
      if (round.abandoned || subscriber.closed) return;
      cursor = round.before;
      fetchSub?.unsubscribe();
      blocked = false;
      if (report(failure)) scheduleTick(everyMs);
    };

    // Saves run one at a time, in order; a cursor settled meanwhile is saved after (only the newest).
    const commit = (c: C): void => {
      if (save === undefined) {
        failures = 0;
        return;
      }
      if (saving) {
        toSave = { cursor: c };
        return;
      }
      saving = true;
      const done = (): void => {
        saving = false;
        const next = toSave;
        toSave = undefined;
        if (next !== undefined) commit(next.cursor);
      };
      saveSub = run(
        () => save(c),
        'cursor.save',
        () => {
          failures = 0;
          done();
        },
        (err) => {
          // The items' effects are complete: a later round's save covers this cursor.
          report(err);
          done();
        },
      );
    };

    start();
    return () => {
      timer?.unsubscribe();
      fetchSub?.unsubscribe();
      saveSub?.unsubscribe();
    };
  });
  return markSource(polled, { kind: 'poll', subject: `poll:${name}`, name, replayStable: deterministic });
}

/*
 * The round's key names its input: the position it was read from. `poll:<name>:<cursorBefore>`
 * (and `...:<i>` for its i-th item) is replay-stable exactly when the fetch is deterministic —
 * the same cursor then yields the same items in the same order, so item i of the round
 * re-fetched after a crash is the same item as before and its outputs may reuse their ids. Whether that holds depends on the source, not on the
 * cursor's type, so the user states it (`deterministic`). A cursor JSON cannot encode gets no
 * stable key.
 */
function cursorKey(cursor: unknown): string | undefined {
  try {
    return JSON.stringify(cursor);
  } catch {
    return undefined;
  }
}
