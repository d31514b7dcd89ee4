import { asyncScheduler, Observable, Subject, type SchedulerLike } from 'rxjs';
import { makeEnvelope } from '../src/envelope/make-envelope.js';
import { markSource } from '../src/observe/lineage.js';
import type { Envelope } from '../src/envelope/envelope.js';
import { InvalidConfigError } from '../src/errors.js';
import { withSettlement } from '../src/settle/settle-scope.js';
import { Settlement } from '../src/settle/settlement.js';
import { parseTiming, runSchedule, type ScheduleFire, type ScheduleTiming } from './internal/schedule-runner.js';

export type { CatchUpPolicy, OverlapPolicy, ScheduleFire, ScheduleTiming } from './internal/schedule-runner.js';

/** Config for {@link schedule}. */
export interface ScheduleConfig extends ScheduleTiming {
  /** Names the schedule: its subject `schedule.<name>`, its runs' ids and its state record. Letters, digits, `_`, `-`. */
  name: string;
  /** Clock and timers. Default `asyncScheduler`. */
  scheduler?: SchedulerLike | undefined;
}

/** A run as an envelope; `signal` aborts when overlap `'cancel'` starts a newer run over it. */
export interface ScheduleRun extends Envelope<ScheduleFire> {
  readonly signal: AbortSignal;
}

const NAME = /^[A-Za-z0-9_-]+$/;

/**
 * A calendar source: one envelope per run of a cron pattern read in a time zone (croner 5–7
 * fields). Subject `schedule.<name>`, id `schedule:<name>:<scheduledAt>`, `eventTime` the fire
 * time, `data` a {@link ScheduleFire}. Feed it to anything that takes envelopes: the `triggers`
 * of `t.durableBatch`, `onSubject` for `batchUntil`, a `settleMap` that runs a job.
 *
 * - Emits: each fire time as it comes; first, after a restart, the runs missed since the state's
 *   time, as `catchUp` says. Runs start in order; `overlap` decides for a run due while the
 *   previous one is still running (its settlement not yet settled): skip it, queue it, or abort
 *   the running one's `signal` and start.
 * - DST: croner reads wall-clock times in `tz`. A time that does not exist on the spring-forward
 *   day (01:30 in London) fires at the first instant after the gap (02:00 BST); a time that
 *   occurs twice in autumn fires once, at the first occurrence. A daily 02:00 in London fires
 *   once every day. Patterns more often than hourly follow real time (every 30 minutes stays 30
 *   minutes apart across both changes).
 * - Holds: each run is emitted in its own settlement, replay-stable under the key
 *   `schedule:<name>:<scheduledAt>`: a durable sink holds the run until its publish ack and gives
 *   it the same `Nats-Msg-Id` on every replay. A run is done when that settlement settles.
 * - Guarantee: with `state` (e.g. `scheduleStateIn(store, name)`), the state moves to a fire time
 *   once that run and every earlier one are done, in the same turn; runs not known done at a
 *   crash are missed runs at the next start, so with `catchUp: 'all'` every fire time is run at
 *   least once, and exactly once into a durable sink (the re-run is a duplicate) within the
 *   duplicate window. A run whose settlement failed is not retried in this process, and the
 *   state stays before it until a restart runs it again as missed.
 * - Fails: never after creation; completes when the pattern has no further fire time.
 *
 * ```ts
 * schedule('0 2 * * *', { name: 'nightly', tz: 'Europe/London', catchUp: 'once', overlap: 'skip', state: scheduleStateIn(store, 'nightly') })
 * ```
 * @throws InvalidConfigError at creation for a bad pattern, time zone, name or policy.
 */
export function schedule(cron: string, config: ScheduleConfig): Observable<ScheduleRun> {
  const component = 'schedule';
  if (typeof config !== 'object' || config === null) throw new InvalidConfigError(component, 'config', 'must be an object');
  if (typeof config.name !== 'string' || !NAME.test(config.name))
    throw new InvalidConfigError(component, 'name', `must be letters, digits, '_' or '-', got ${JSON.stringify(config.name)}`);
  const { name } = config;
  const timing = parseTiming(`schedule '${name}'`, cron, config);
  const scheduler = config.scheduler ?? asyncScheduler;
  const runs$ = new Observable<ScheduleRun>((subscriber) => {
    const running = new Set<AbortController>();
    const idle = new Subject<void>();
    const stop = runSchedule(name, timing, {
      scheduler,
      busy: () => running.size > 0,
      idle,
      cancel: () => {
        for (const c of running) c.abort(new Error(`schedule '${name}': a newer run started (overlap 'cancel')`));
        running.clear();
      },
      complete: () => subscriber.complete(),
      run: (fire, done) => {
        const controller = new AbortController();
        running.add(controller);
        const settlement = new Settlement(`schedule:${name}:${fire.scheduledAt}`, true, (failure) => {
          running.delete(controller);
          done(failure === undefined);
          idle.next();
        });
        const env = makeEnvelope({ subject: `schedule.${name}`, id: settlement.key, eventTime: fire.scheduledAt, data: fire });
        withSettlement(settlement, () => subscriber.next({ ...env, signal: controller.signal }));
        settlement.release();
      },
    });
    return () => {
      stop();
      idle.complete();
    };
  });
  // For describe: with a state, a run cut by a crash runs again (its position moves only after
  // its effects), under the same id only when every missed run is run again as itself.
  if (timing.state === undefined || timing.catchUp === 'skip') return markSource(runs$, { kind: 'source', subject: `schedule:${name}` });
  return markSource(runs$, { kind: 'poll', subject: `schedule:${name}`, name, replayStable: timing.catchUp === 'all' });
}
