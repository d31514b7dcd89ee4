import { InvalidConfigError } from '../errors.js';
import type { StateStore } from './types.js';

/**
 * Where a schedule keeps how far it has run: the fire time (epoch ms) up to which every run is
 * done. Read once when a schedule starts, written after each run is done; both synchronous, so a
 * run is recorded in the same turn of the event loop that finished it.
 */
export interface ScheduleState {
  load(): number | undefined;
  save(handledThroughMs: number): void;
}

/** LMDB namespace holding one record per schedule name. */
export const SCHEDULE_NAMESPACE = 'schedules';

/**
 * A schedule's state in the topology's LMDB state store (namespace `schedules`, key = the
 * schedule's name), so catch-up after a restart knows what ran: keep it in the store of the part
 * the schedule triggers. Each save is one synchronous LMDB transaction.
 */
export function scheduleStateIn(store: StateStore | (() => StateStore), name: string): ScheduleState {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidConfigError('scheduleStateIn', 'name', `must be a non-empty string, got ${String(name)}`);
  const open = typeof store === 'function' ? store : () => store;
  return {
    load: () => open().get<{ handledThroughMs: number }>(SCHEDULE_NAMESPACE, name)?.handledThroughMs,
    save: (handledThroughMs) => open().transaction((w) => w.put(SCHEDULE_NAMESPACE, name, { handledThroughMs })),
  };
}

/** A schedule state in memory: survives re-subscribing in one process, not a restart. For tests. */
export function memoryScheduleState(initial?: number): ScheduleState {
  let value = initial;
  return {
    load: () => value,
    save: (ms) => {
      value = ms;
    },
  };
}
