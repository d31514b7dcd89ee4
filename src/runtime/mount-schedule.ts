import { tap, type Observable } from 'rxjs';
import { schedule, type ScheduleRun } from '../../operators/schedule.js';
import type { ScheduleState } from '../state/schedule-state.js';
import { scheduleStateIn } from '../state/schedule-state.js';
import { ensureError } from '../errors.js';
import { openTopologyStore, type TopologyStore } from './open-topology-store.js';
import { PartCounters } from '../observe/part-stats.js';
import type { TopologyContext } from './types.js';
import type { TopologyScheduleOptions } from './mount-types.js';

/**
 * `t.schedule`: a `schedule` on the topology's clock that stops when the runtime drains, its
 * state in the topology's state directory beside the parts it triggers, opened on first use and
 * closed once the pipelines have drained.
 */
export function mountSchedule(ctx: TopologyContext, name: string, cron: string, options: TopologyScheduleOptions = {}): Observable<ScheduleRun> {
  let opened: TopologyStore | undefined;
  let closed = false;
  const open = () => (opened ??= openTopologyStore({ ...ctx, topologyName: `${ctx.topologyName}.schedules` }, ctx.stateDir)).store;
  const inStore = scheduleStateIn(open, name);
  const state: ScheduleState = options.state ?? {
    load: () => inStore.load(),
    save: (ms) => {
      // A run acknowledged during the drain, after the store closed, is simply caught up next time.
      if (closed) return;
      try {
        inStore.save(ms);
      } catch (err) {
        ctx.logger.error(
          { schedule: name, handledThroughMs: ms, err: ensureError(err) },
          'schedule state could not be saved: runs after the last saved one are caught up at the next start',
        );
      }
    },
  };
  ctx.onStop(async () => {
    closed = true;
    await opened?.close();
  });
  // in = out: runs emitted (caught-up ones included); one counter bump per run.
  const counters = new PartCounters('source', `schedule ${name}`);
  ctx.stats.registerPart(counters);
  const count = {
    next(): void {
      counters.in++;
      counters.out++;
    },
  };
  const runs$ = schedule(cron, { ...options, name, state, scheduler: ctx.scheduler }).pipe(tap(count), ctx.untilStopped());
  // Runs are envelopes on `schedule.<name>` inside the process, never on the wire: listed so the
  // contract says what starts the parts it triggers.
  ctx.declare({
    kind: 'schedule',
    subject: `schedule.${name}`,
    name,
    timing: { cron, tz: options.tz, catchUp: options.catchUp ?? 'skip', overlap: options.overlap ?? 'skip' },
  });
  return runs$;
}
