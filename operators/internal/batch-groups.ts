import type { SchedulerLike } from 'rxjs';
import { InvalidConfigError } from '../../src/errors.js';
import { GroupLog } from '../../src/settle/group-log.js';
import type { StateStore } from '../../src/state/types.js';
import { optionalNumber, requireName } from './validate-config.js';

/** Default wait for the members of a replayed group: the source's ack wait (30 s) + its largest redelivery delay (30 s) + margin. */
export const REPLAY_WAIT_MS = 90_000;

/** The `groups` option as given (`MicroBatchGroups` of micro-batch.ts, which documents it). */
export interface BatchGroupsConfig {
  store: StateStore | (() => StateStore);
  name: string;
  retentionMs?: number | undefined;
  replayWaitMs?: number | undefined;
}

/** Validated `groups` option: opens the group log on subscribe. */
export interface BatchGroups {
  readonly name: string;
  readonly replayWaitMs: number;
  open(scheduler: SchedulerLike): GroupLog;
}

/** Validates the `groups` option of `microBatch`/`microBatchProcess` at operator creation. */
export function validateBatchGroups(component: string, groups: BatchGroupsConfig | undefined): BatchGroups | undefined {
  if (groups === undefined) return undefined;
  if (typeof groups !== 'object' || groups === null) throw new InvalidConfigError(component, 'groups', `must be an object, got ${String(groups)}`);
  const name = requireName(component, 'groups.name', groups.name);
  const retentionMs = optionalNumber(component, 'groups.retentionMs', groups.retentionMs, 0);
  const replayWaitMs = optionalNumber(component, 'groups.replayWaitMs', groups.replayWaitMs, 0) ?? REPLAY_WAIT_MS;
  const { store } = groups;
  if (typeof store !== 'function' && (typeof store !== 'object' || store === null || typeof store.transaction !== 'function')) {
    throw new InvalidConfigError(component, 'groups.store', 'must be a StateStore (openStateStore) or a function returning one');
  }
  return {
    name,
    replayWaitMs,
    open: (scheduler) => {
      const s: StateStore = typeof store === 'function' ? store() : store;
      return new GroupLog({ store: s, name, retentionMs, now: () => scheduler.now() });
    },
  };
}
