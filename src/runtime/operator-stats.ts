import { PartCounters } from './part-stats.js';
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

/**
 * Counters for an operator (`microBatch orders`, `window sales`...). Called while a topology is
 * being built, they are that topology's part and the stats endpoint reports them; elsewhere
 * (a test, a plain RxJS chain) they count for nobody, at the same cost.
 */
export function operatorCounters(name: string): PartCounters {
  const counters = new PartCounters('operator', name);
  if (building !== undefined) building.registerPart(counters);
  return counters;
}
