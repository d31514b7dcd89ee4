import { asyncScheduler, from, Observable, share, take, type ObservableInput, type SchedulerLike, type Subscription } from 'rxjs';
import { toDeadLetter } from '../src/dead-letter/dead-letter-record.js';
import { topologyDeadLetters, type PublishDeadLetter } from '../src/dead-letter/dead-letter-scope.js';
import type { Envelope } from '../src/envelope/envelope.js';
import { ensureError, InvalidConfigError, TerminalError } from '../src/errors.js';
import { markSource } from '../src/observe/lineage.js';
import { operatorCounters, receivedCounter } from '../src/observe/operator-stats.js';
import { backoffDelayMs, resolveRetryPolicy, type BackoffPolicy, type RetryPolicy } from '../src/retry/retry-policy.js';
import { withSettlement } from '../src/settle/settle-scope.js';
import { Settlement, type FailureOutcome } from '../src/settle/settlement.js';
import { requireFunction, requireInt, requireName, requireNumber } from './internal/validate-config.js';
import { isRetryableByDefault } from './retry-with-backoff.js';

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
  /**
   * Consecutive failed polls (load, fetch or save: the source cannot be read) before the source
   * errors with `PollFailedError`. An item whose effects failed is not a failed poll (see
   * `retry`). Integer >= 1, default 5.
   */
  maxConsecutiveFailures?: number | undefined;
  /**
   * How an item whose effects failed with an error a retry may fix (under `'retry'`
   * supervision, or a sink's failed publish) is tried again: emitted again, alone, after
   * `initialDelayMs` growing by `multiplier`, until `maxAttempts` tries; then it is
   * dead-lettered. Default: 5 tries, 1000 ms doubling up to 30 s, no jitter (a stream source's
   * redelivery).
   */
  retry?: RetryPolicy | undefined;
  /**
   * Told about each failure: a failed load, fetch or save with the count of consecutive failed
   * polls; a failed try of an item's effects with the item's tries so far.
   */
  onError?: ((error: Error, failures: number) => void) | undefined;
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
  /** Not every item was processed (the consumer unsubscribed first): never saved. */
  abandoned: boolean;
}

/** An item of a round until it is done with: its hold on the round and its settlement key. */
interface PolledItem<I, C> {
  readonly round: Round<C>;
  readonly held: Settlement;
  readonly value: I;
  readonly key: string;
}

/** The retry of an item whose effects failed, as a stream source redelivers a message. */
const ITEM_RETRY: BackoffPolicy = { maxAttempts: 5, initialDelayMs: 1_000, maxDelayMs: 30_000, multiplier: 2, jitter: 'none' };

/**
 * A source that checks for changes on a schedule: on subscribe it loads the saved cursor, then
 * calls `fetch(cursor)` every `everyMs` and emits the returned items in order. Fetches never
 * overlap; with `more: true` the next one starts at once (paging through a backlog). One poll
 * however many subscribers it has: a pipeline the runtime restarts after a stage threw rejoins
 * it and goes on from where it was.
 *
 * - Guarantee: at-least-once. Each fetch is a round with its own settlement: its items are
 *   emitted in the round's scope, so settle-aware stages downstream (`settleMap`, a durable
 *   sink, `batchUntil`) hold the round until the items' effects are complete. Only then is the
 *   round's cursor saved — and rounds are saved in fetch order, so a later round's cursor never
 *   passes an earlier round whose effects are still running. A crash or restart re-fetches from
 *   the last saved cursor. A bare async stage (`mergeMap` over a promise) downstream does not
 *   hold the round: the cursor is then saved before its effects (at-most-once; use `settleMap`).
 * - Holds: at most `maxUnsettledRounds` fetches' items whose effects are not complete (an item
 *   waiting for its retry included); the next fetch waits (size the page in `fetch`).
 * - Bad input: an item whose effects failed never fails the source. A final failure — under
 *   `'resume'` supervision (the default: a `map` or a `settleMap` project threw on it), an error
 *   no retry fixes (`TerminalError`, `PayloadSchemaError`, `DecodeError`), or the `retry`
 *   policy's tries used up — sends the item to the topology's dead letters, once: subject
 *   `poll:<name>`, id `poll:<name>:<cursor>:<index>` (the cursor its round was fetched from and
 *   its place in the round), the item as MessagePack (its bytes when it is a `Uint8Array`; cut to
 *   fit, `payloadTruncated`, when too big), the error, the stage that threw and the tries. The
 *   round is saved past it once the record is stored. Any other failure (`'retry'` supervision,
 *   a failed publish) emits the item again, alone, after the `retry` policy's delay (so after
 *   later items). Outside a topology there are no dead letters: a final failure is then a failed
 *   poll, and the item is tried again after the delay.
 * - Fails: a failed load, fetch (error, throw, or no result) or save is reported to `onError`
 *   and retried at the next tick; after `maxConsecutiveFailures` in a row the source errors
 *   with `PollFailedError`. A throwing `onError` errors the source.
 * - Never completes on its own; unsubscribe to stop (an in-flight fetch is unsubscribed; a round
 *   not fully processed is not saved).
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
  const retry = resolveRetryPolicy(config.retry ?? {}, ITEM_RETRY, component, 'retry.');
  if (config.name !== undefined) requireName(component, 'name', config.name);
  if (config.deterministic === true && config.name === undefined) {
    throw new InvalidConfigError(component, 'name', 'is required with deterministic: true (output ids are derived from it; two polls must not share them)');
  }
  const name = config.name ?? 'poll';
  const subject = `poll:${name}`;
  const deterministic = config.deterministic === true;
  const { initial, load, save } = config.cursor ?? ({} as PollCursorConfig<C>);
  const scheduler = config.scheduler ?? asyncScheduler;
  // in: items fetched; out: items emitted (again on a retry); batches: rounds and their sizes; unsettled: items emitted, not yet settled (a retry's wait included);
  // failures: failed fetches, loads and saves; deadLetters: items given up on.
  const counters = operatorCounters(`poll ${name}`, 'source');
  counters.unsettled = 0;
  counters.failures = 0;
  const received = receivedCounter(subject);
  const deadLetters = topologyDeadLetters();

  const polled = new Observable<I>((subscriber) => {
    let cursor = initial;
    let failures = 0;
    let loaded = load === undefined;
    let fetchSub: Subscription | undefined;
    let saveSub: Subscription | undefined;
    let timer: Subscription | undefined;
    const retries = new Set<Subscription>();
    let blocked = false;
    const rounds: Round<C>[] = [];
    let saving = false;
    let toSave: { cursor: C } | undefined;

    /** Counts a failed poll; false when the source gave up (errored). */
    const report = (thrown: unknown): boolean => {
      failures++;
      counters.failures!++;
      const error = ensureError(thrown);
      if (!tell(error, failures)) return false;
      if (failures < maxFailures) return true;
      subscriber.error(new PollFailedError(failures, { cause: error }));
      return false;
    };

    /** Tells `onError`; false when it threw (the source errored). */
    const tell = (error: Error, count: number): boolean => {
      try {
        config.onError?.(error, count);
        return true;
      } catch (err) {
        subscriber.error(err);
        return false;
      }
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
      const round: Round<C> = { before, after: result.cursor, settled: false, abandoned: false };
      rounds.push(round);
      cursor = result.cursor;
      counters.in += result.items.length;
      counters.batch(result.items.length);
      const key = cursorKey(before);
      const settlement = new Settlement(`poll:${name}:${key ?? '?'}`, deterministic && key !== undefined, () => roundSettled(round));
      // Each item in its own settlement, held by the round: outputs are numbered per item, so
      // their ids stay the same however a concurrent stage downstream reorders a round's items.
      result.items.forEach((item, i) => {
        if (subscriber.closed || !settlement.hold()) return;
        received();
        counters.unsettled!++;
        emitItem({ round, held: settlement, value: item, key: `${settlement.key}:${i}` }, 1);
      });
      // Unsubscribed mid-round: items after that point were never emitted, so it is never saved.
      if (subscriber.closed) round.abandoned = true;
      settlement.release();
      if (!subscriber.closed) scheduleTick(result.more === true ? 0 : startedAt + everyMs - scheduler.now());
    };

    /** Emits one item in its own settlement, for its try number `attempt`. */
    const emitItem = (it: PolledItem<I, C>, attempt: number): void => {
      // A retry keeps the key: outputs published by an earlier try get the same ids (a duplicate
      // for a durable sink when the poll is deterministic).
      const one = new Settlement(it.key, it.held.replayStable, (failure, outcome) => {
        if (failure === undefined) itemDone(it);
        else itemFailed(it, attempt, failure, outcome);
      });
      counters.out++;
      withSettlement(one, () => subscriber.next(it.value));
      one.release();
    };

    /** The item is done with (or given up on): its hold on the round goes. */
    const itemDone = (it: PolledItem<I, C>): void => {
      counters.unsettled!--;
      it.held.release();
    };

    const itemFailed = (it: PolledItem<I, C>, attempt: number, failure: Error, outcome: FailureOutcome | undefined): void => {
      const final = outcome?.resume === true || isFinal(failure) || attempt >= retry.maxAttempts;
      if (final && deadLetters !== undefined) {
        if (tell(failure, attempt)) deadLetter(deadLetters, it, attempt, failure, outcome?.part);
        return;
      }
      // Nowhere to put it outside a topology: as a source that cannot be read.
      if (final ? report(failure) : tell(failure, attempt)) later(it, attempt);
    };

    // The dead letter is the item's last effect: the round is saved past the item once it is stored.
    const deadLetter = (publish: PublishDeadLetter, it: PolledItem<I, C>, attempt: number, failure: Error, part: string | undefined): void => {
      counters.deadLetters++;
      const input: Envelope<I> = { subject, data: it.value, headers: {}, id: it.key, eventTime: scheduler.now() };
      const record = toDeadLetter(input, failure, attempt, { operator: part ?? subject, failedAt: scheduler.now() });
      const last = new Settlement(it.key, it.held.replayStable, (unstored) => {
        if (unstored === undefined) itemDone(it);
        // Stored nowhere: tried again, as a stream message whose dead letter failed is redelivered.
        else if (tell(unstored, attempt)) later(it, attempt);
      });
      // A deterministic poll names the item the same way after a crash: its record is stored once.
      withSettlement(last, () => publish(record, it.held.replayStable ? `sluice-dlq:${it.key}:${record.operator}` : undefined));
      last.release();
    };

    /** Emits the item again after the retry delay; unsubscribed meanwhile, its round is never saved. */
    const later = (it: PolledItem<I, C>, attempt: number): void => {
      const abandon = (): void => {
        it.round.abandoned = true;
        itemDone(it);
      };
      if (subscriber.closed) return abandon();
      const retryTimer = scheduler.schedule(
        () => {
          retries.delete(retryTimer);
          if (subscriber.closed) abandon();
          else emitItem(it, attempt + 1);
        },
        backoffDelayMs(attempt, retry),
      );
      retries.add(retryTimer);
    };

    const roundSettled = (round: Round<C>): void => {
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
      for (const r of retries) r.unsubscribe();
    };
  });
  // Shared, as a stream: a pipeline the runtime resubscribes after a stage threw on an item
  // rejoins this poll while the item is still being emitted, instead of starting another from
  // the saved cursor (which would read the bad item again, and again).
  return markSource(polled.pipe(share()), { kind: 'poll', subject, name, replayStable: deterministic });
}

/** An error that a retry of the same item cannot fix. */
function isFinal(error: Error): boolean {
  return error instanceof TerminalError || !isRetryableByDefault(error);
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
