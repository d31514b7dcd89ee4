import type { Observable } from 'rxjs';
import { traceSources } from '../../src/observe/lineage.js';
import type { WiringNode } from '../../src/observe/wiring-node.js';

/** What a holding operator needs to know about the sources feeding it. */
export interface SettlingUpstream {
  /** Sources that wait for effects before moving on: durable stream reads and polling sources. */
  readonly sources: readonly WiringNode[];
  /** The durable stream read with the smallest `maxUnsettled`, if any: a memory hold must fit under it. */
  readonly tightest?: { readonly name: string; readonly maxUnsettled: number } | undefined;
}

/**
 * Follows `source` upstream as `describe` does (lineage marks and RxJS `pipe` links). Called when
 * an operator is applied, i.e. while a topology is built, so a configuration that could stall a
 * stream fails then, not at 2 a.m. Sources it cannot follow (RxJS `merge`) are not seen.
 */
export function settlingUpstream(source: Observable<unknown>): SettlingUpstream {
  const sources = traceSources(source).sources.filter((n) => (n.kind === 'stream' && n.ordered !== true) || n.kind === 'poll');
  let tightest: { name: string; maxUnsettled: number } | undefined;
  for (const n of sources) {
    if (n.kind !== 'stream' || n.maxUnsettled === undefined) continue;
    if (tightest === undefined || n.maxUnsettled < tightest.maxUnsettled) tightest = { name: n.stream ?? n.subject, maxUnsettled: n.maxUnsettled };
  }
  return { sources, tightest };
}
