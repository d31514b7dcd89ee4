import { partStateProblem } from './part-stats.js';
import type { RuntimeStats } from './runtime-stats.js';

/** What `GET /readyz` answers: ready, or the reasons it is not. */
export interface Readiness {
  readonly ready: boolean;
  /** One short sentence per reason; empty when ready. */
  readonly reasons: readonly string[];
}

/**
 * Whether a topology is ready to do its work, for an orchestrator's readiness probe: it has
 * started (`runTopology` resolved, so `stats` is given), it is not stopping (a drain has not
 * begun), its broker connection is up, and none of its parts is still starting or has failed. A part that completed (a finite pipeline) is
 * fine. Reads counters only: cheap enough to call on every probe.
 */
export function readinessOf(stats: RuntimeStats | undefined, nowMs = Date.now()): Readiness {
  if (stats === undefined) return { ready: false, reasons: ['the topology has not started yet'] };
  const reasons: string[] = [];
  // Draining: the orchestrator should stop routing work here (and not wait for it to come back).
  if (stats.stopping !== undefined) reasons.push(`the topology is stopping (${stats.stopping}) and draining`);
  const connection = stats.connection(nowMs);
  if (!connection.connected) reasons.push(`the broker connection is down (for ${connection.lastGap?.durationMs ?? 0} ms)`);
  for (const part of stats.parts()) {
    const problem = partStateProblem(part.name, part.read().state);
    if (problem !== undefined) reasons.push(problem.why);
  }
  return { ready: reasons.length === 0, reasons };
}
