import { PartCounters, type PartKind } from './part-stats.js';
import type { RuntimeStats } from './runtime-stats.js';

// Operators are plain RxJS functions with no context; they are called while a builder runs, so
// the topology being built is known then and only then.
let building: RuntimeStats | undefined;

/** Runs a topology builder with its stats as the registry that {@link operatorCounters} reports to. */
export function whileBuilding<T>(stats: RuntimeStats, build: () => T): T {
  const outer = building;
  building = stats;
  try {
    return build();
  } finally {
    building = outer;
  }
}

/** Runs `create` with nothing registering: a part built from another (fileDrop's poll) counts once, as the outer one. */
export function unregistered<T>(create: () => T): T {
  const outer = building;
  building = undefined;
  try {
    return create();
  } finally {
    building = outer;
  }
}

/**
 * Counters for an operator (`microBatch orders`, `window sales`...) or a source built the same
 * way (`poll erp`, `fileDrop inbox`). Called while a topology is being built, they are that
 * topology's part and the stats endpoint reports them; elsewhere (a test, a plain RxJS chain)
 * they count for nobody, at the same cost.
 */
export function operatorCounters(name: string, kind: PartKind = 'operator'): PartCounters {
  const counters = new PartCounters(kind, name);
  if (building !== undefined) building.registerPart(counters);
  return counters;
}

/**
 * Counts what a source built the same way (`poll`, `fileDrop`) receives in the stats' `received`,
 * under `subject` (its `poll:<name>`): the runtime measures a pipeline's progress by it, to tell
 * one that fails on every input from one that fails now and then
 * (`restart.maxConsecutiveFailures`). Elsewhere it counts for nobody.
 */
export function receivedCounter(subject: string): () => void {
  const stats = building;
  return stats === undefined ? () => undefined : () => stats.recordReceived(subject);
}
