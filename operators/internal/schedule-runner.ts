import type { Cron } from 'croner';
import type { Observable, SchedulerLike, Subscription } from 'rxjs';
import { InvalidConfigError } from '../../src/errors.js';
import type { ScheduleState } from '../../src/state/schedule-state.js';
import { requireInt } from './validate-config.js';
import { nextFireAfter, parseCron } from './cron.js';

/** What to do with the runs a schedule missed while nothing was running it (downtime). */
export type CatchUpPolicy = 'skip' | 'once' | 'all';
/** What to do when a run is due while the previous one is still running. */
export type OverlapPolicy = 'skip' | 'queue' | 'cancel';

/** One run of a schedule. */
export interface ScheduleFire {
  /** The schedule's name. */
  readonly name: string;
  /** The fire time the pattern named, epoch ms: the same on every replay of this run. */
  readonly scheduledAt: number;
  /** When it actually fired, epoch ms (later than `scheduledAt` for a catch-up or a queued run). */
  readonly firedAt: number;
  /** True for a run that was missed while the schedule was not running. */
  readonly catchUp: boolean;
  /** Runs this one stands for: more than 1 when catch-up `'once'` folded missed runs into it. */
  readonly runs: number;
}

/** Options shared by `schedule` and `onSchedule`. */
export interface ScheduleTiming {
  /** IANA time zone the pattern is read in, e.g. `'Europe/London'`. Default: the process's local zone. */
  tz?: string | undefined;
  /** Runs missed while down (needs `state`): `'skip'` none, `'once'` the latest only, `'all'` each in order. Default `'skip'`. */
  catchUp?: CatchUpPolicy | undefined;
  /** A run due while the previous one is running: `'skip'` it, `'queue'` it, or `'cancel'` the running one. Default `'skip'`. */
  overlap?: OverlapPolicy | undefined;
  /** Where the schedule records how far it has run; without it a restart knows nothing of missed runs. */
  state?: ScheduleState | undefined;
  /** Runs caught up (`'all'`) or queued at most; older missed runs, and queued runs past it, are skipped. Default 1000. */
  maxCatchUp?: number | undefined;
}

export interface ParsedTiming {
  readonly cron: Cron;
  readonly catchUp: CatchUpPolicy;
  readonly overlap: OverlapPolicy;
  readonly state: ScheduleState | undefined;
  readonly maxCatchUp: number;
}

const CATCH_UP: readonly CatchUpPolicy[] = ['skip', 'once', 'all'];
const OVERLAP: readonly OverlapPolicy[] = ['skip', 'queue', 'cancel'];
// setTimeout (under asyncScheduler) fires at once for delays past 2^31-1 ms (~24.8 days); longer
// waits are taken in steps, re-computing the fire time after each.
const MAX_DELAY_MS = 2_147_483_647;

export function parseTiming(component: string, pattern: string, config: ScheduleTiming): ParsedTiming {
  const cron = parseCron(component, pattern, config.tz);
  const catchUp = config.catchUp ?? 'skip';
  if (!CATCH_UP.includes(catchUp)) throw new InvalidConfigError(component, 'catchUp', `must be 'skip', 'once' or 'all', got ${JSON.stringify(catchUp)}`);
  const overlap = config.overlap ?? 'skip';
  if (!OVERLAP.includes(overlap)) throw new InvalidConfigError(component, 'overlap', `must be 'skip', 'queue' or 'cancel', got ${JSON.stringify(overlap)}`);
  const state = config.state;
  if (state !== undefined && (typeof state.load !== 'function' || typeof state.save !== 'function')) {
    throw new InvalidConfigError(component, 'state', 'must have load() and save(ms) (see scheduleStateIn)');
  }
  if (catchUp !== 'skip' && state === undefined)
    throw new InvalidConfigError(component, 'catchUp', `is '${catchUp}' but no 'state' is given: without a record of what ran, nothing can be caught up`);
  return { cron, catchUp, overlap, state, maxCatchUp: requireInt(component, 'maxCatchUp', config.maxCatchUp ?? 1000, 1) };
}

/** How the runner sees what consumes the runs. */
export interface RunHooks {
  readonly scheduler: SchedulerLike;
  /** A run is still in progress. */
  busy(): boolean;
  /** Notifies when a run may have ended (queued runs are retried then). */
  readonly idle: Observable<unknown>;
  /** Stops the runs in progress (overlap `'cancel'`); they count as done. */
  cancel(): void;
  /** Starts a run; `done(ok)` once it is over. A failed run stops the state from moving past it. */
  run(fire: ScheduleFire, done: (ok: boolean) => void): void;
  /** The pattern never fires again. */
  complete(): void;
}

interface Mark {
  readonly at: number;
  done: boolean;
}

/**
 * Drives one subscription of a schedule: catches up the runs missed since the state's time, then
 * waits for each fire time on the scheduler (so virtual time applies), applying the overlap
 * policy. The state moves to a fire time only once that run and every earlier one are done (or
 * skipped), so after a crash the runs not known done are "missed" again and caught up; a failed
 * run keeps the state before it for the rest of this process. Returns the teardown.
 */
export function runSchedule(name: string, timing: ParsedTiming, hooks: RunHooks): () => void {
  const { cron, catchUp, overlap, state, maxCatchUp } = timing;
  const { scheduler } = hooks;
  let closed = false;
  let wait: Subscription | undefined;
  let idleSub: Subscription | undefined;
  let pumping = false;
  let stalled = false;
  const due: { at: number; catchUp: boolean; runs: number }[] = [];
  let marks: Mark[] = [];

  const startedAt = scheduler.now();
  let handled = state?.load();
  if (state !== undefined && handled === undefined) {
    // First start: nothing before now is owed.
    handled = startedAt;
    state.save(startedAt);
  }
  const from = handled ?? startedAt;
  let cursor = Math.max(from, startedAt);

  const settleMarks = (): void => {
    let saveAt: number | undefined;
    while (marks.length > 0 && marks[0]!.done) saveAt = marks.shift()!.at;
    if (saveAt !== undefined && !stalled && state !== undefined && (handled === undefined || saveAt > handled)) {
      handled = saveAt;
      state.save(saveAt);
    }
  };

  const finish = (mark: Mark, ok: boolean): void => {
    if (mark.done || stalled) return;
    if (!ok) {
      stalled = true;
      marks = [];
      return;
    }
    mark.done = true;
    settleMarks();
  };

  const skip = (at: number): void => {
    if (stalled) return;
    marks.push({ at, done: true });
    settleMarks();
  };

  const pump = (): void => {
    if (pumping) return;
    pumping = true;
    try {
      while (due.length > 0 && !closed) {
        if (hooks.busy()) {
          if (overlap === 'skip') {
            skip(due.shift()!.at);
            continue;
          }
          if (overlap === 'queue') {
            idleSub ??= hooks.idle.subscribe(() => pump());
            return;
          }
          hooks.cancel();
          for (const m of marks) m.done = true;
          settleMarks();
        }
        const next = due.shift()!;
        const mark: Mark = { at: next.at, done: false };
        if (!stalled) marks.push(mark);
        hooks.run({ name, scheduledAt: next.at, firedAt: scheduler.now(), catchUp: next.catchUp, runs: next.runs }, (ok) => finish(mark, ok));
      }
    } finally {
      pumping = false;
    }
  };

  const enqueue = (at: number, isCatchUp: boolean, runs: number): void => {
    // A queue longer than maxCatchUp means runs are slower than the schedule: drop the oldest.
    if (due.length >= maxCatchUp) skip(due.shift()!.at);
    due.push({ at, catchUp: isCatchUp, runs });
  };

  const arm = (): void => {
    if (closed) return;
    const now = scheduler.now();
    const at = nextFireAfter(cron, cursor);
    if (at === undefined) {
      hooks.complete();
      return;
    }
    wait = scheduler.schedule(
      () => {
        // A timer may wake a little early (or a step of a long wait ends): fire only when due.
        if (scheduler.now() >= at) {
          cursor = at;
          enqueue(at, false, 1);
          pump();
        }
        arm();
      },
      Math.min(Math.max(0, at - now), MAX_DELAY_MS),
    );
  };

  // Catch-up runs once the consumer is wired (a batch's trigger is subscribed before its source).
  wait = scheduler.schedule(() => {
    const now = scheduler.now();
    if (handled !== undefined && now > handled) {
      const missed = missedRuns(cron, handled, now, maxCatchUp);
      if (missed.times.length > 0) {
        if (catchUp === 'skip') skip(missed.times.at(-1)!);
        else if (catchUp === 'once') {
          // Earlier missed runs are folded into this one: record them as covered by it.
          enqueue(missed.times.at(-1)!, true, missed.times.length + missed.more);
        } else {
          if (missed.more > 0) skip(missed.times[0]! - 1);
          for (const at of missed.times) enqueue(at, true, 1);
        }
        pump();
      }
      cursor = Math.max(cursor, now);
    }
    arm();
  });

  return () => {
    closed = true;
    wait?.unsubscribe();
    idleSub?.unsubscribe();
  };
}

/**
 * The latest `max` fire times in `(from, to]`, oldest first, and how many earlier ones there are
 * (0 when none, else at least 1: not counted past `max`). Croner only steps forward, so a long
 * gap is searched backwards from `to` in growing steps rather than walked run by run.
 */
export function missedRuns(cron: Cron, from: number, to: number, max: number): { times: number[]; more: number } {
  // The latest max + 1 fire times in (start, to]: one more than kept tells that there are more.
  const latest = (start: number): number[] => {
    const out: number[] = [];
    for (let t = nextFireAfter(cron, start); t !== undefined && t <= to; t = nextFireAfter(cron, t)) {
      out.push(t);
      if (out.length > max + 1) out.shift();
    }
    return out;
  };
  const first: number[] = [];
  for (let t = nextFireAfter(cron, from); t !== undefined && t <= to && first.length <= max; t = nextFireAfter(cron, t)) first.push(t);
  if (first.length <= max) return { times: first, more: 0 };
  for (let step = 60_000; ; step *= 4) {
    const probe = to - step;
    const times = latest(Math.max(probe, from));
    if (times.length > max || probe <= from) return { times: times.slice(-max), more: 1 };
  }
}
