import { merge, Observable, type ObservedValueOf } from 'rxjs';
import type { WiringNode } from './wiring-node.js';

/**
 * What a stage on a path does to the guarantee, as `describe` reports it:
 * - `passes`: settles with its input (synchronous, or holds the input until its output is done);
 * - `groups`: gathers inputs into groups (batches, windows) whose outputs get deterministic ids
 *   only when `recorded` (the grouping is stored before its effects);
 * - `weakens`: acknowledges before its downstream effects are complete (at-most-once past it).
 */
export interface StageInfo {
  readonly name: string;
  readonly effect: 'passes' | 'groups' | 'weakens';
  readonly recorded?: boolean | undefined;
  /** A stage that writes files (`fileSink`): where and in what format, so `describe` lists it as an output. */
  readonly file?: { readonly dir: string; readonly format: string } | undefined;
}

/** Where a sink's values come from. */
export interface Trace {
  readonly sources: readonly WiringNode[];
  /** Sluice stages met on the way, nearest the sink first. */
  readonly stages: readonly StageInfo[];
  /** Some upstream could not be followed (e.g. RxJS `merge`, a hand-made Observable). */
  readonly incomplete: boolean;
}

const sources = new WeakMap<Observable<unknown>, WiringNode>();
const stages = new WeakMap<Observable<unknown>, { upstream: readonly Observable<unknown>[]; info: StageInfo }>();

/** Marks an Observable as a topology source, so sinks downstream can find it. */
export function markSource<O extends Observable<unknown>>(observable: O, node: WiringNode): O {
  sources.set(observable, node);
  return observable;
}

/**
 * Marks `output` as a stage over `upstream`: operators built with `new Observable` (which RxJS
 * does not link to their source) call it so `describe` can follow the path through them.
 */
export function markStage<O extends Observable<unknown>>(output: O, upstream: Observable<unknown> | readonly Observable<unknown>[], info: StageInfo): O {
  stages.set(output, { upstream: Array.isArray(upstream) ? upstream : [upstream as Observable<unknown>], info });
  return output;
}

/** Follows an Observable back to the topology sources it reads, through marked stages and RxJS `pipe` links. */
export function traceSources(observable: Observable<unknown>): Trace {
  const found: WiringNode[] = [];
  const met: StageInfo[] = [];
  let incomplete = false;
  const seen = new Set<Observable<unknown>>();
  const queue: Observable<unknown>[] = [observable];
  while (queue.length > 0) {
    const o = queue.shift()!;
    if (seen.has(o)) continue;
    seen.add(o);
    const node = sources.get(o);
    if (node !== undefined) {
      if (!found.includes(node)) found.push(node);
      continue;
    }
    const stage = stages.get(o);
    if (stage !== undefined) {
      met.push(stage.info);
      queue.push(...stage.upstream);
      continue;
    }
    // RxJS 7 links each piped operator's Observable to its upstream through `source`.
    const upstream = (o as { source?: Observable<unknown> | undefined }).source;
    if (upstream !== undefined) queue.push(upstream);
    else incomplete = true;
  }
  return { sources: found, stages: met, incomplete };
}

/** The file-writing stages (`fileSink`) upstream of `observable`, each with its own output Observable. */
export function fileStages(observable: Observable<unknown>): { output: Observable<unknown>; info: StageInfo }[] {
  const found: { output: Observable<unknown>; info: StageInfo }[] = [];
  const seen = new Set<Observable<unknown>>();
  const queue: Observable<unknown>[] = [observable];
  while (queue.length > 0) {
    const o = queue.shift()!;
    if (seen.has(o) || sources.has(o)) continue;
    seen.add(o);
    const stage = stages.get(o);
    if (stage !== undefined) {
      if (stage.info.file !== undefined) found.push({ output: o, info: stage.info });
      queue.push(...stage.upstream);
      continue;
    }
    const upstream = (o as { source?: Observable<unknown> | undefined }).source;
    if (upstream !== undefined) queue.push(upstream);
  }
  return found;
}

/**
 * `merge(...lanes)`, marked so that `describe` follows each lane to its source (a plain RxJS merge
 * hides them). The mark goes on an Observable of its own: RxJS's `merge` of one lane is that lane
 * itself (and of none, the shared `EMPTY`), which marked would become its own upstream and hide
 * its source.
 */
export function mergeMarked<L extends Observable<unknown>>(lanes: readonly L[]): Observable<ObservedValueOf<L>> {
  const merged = new Observable<ObservedValueOf<L>>((subscriber) => (merge(...lanes) as Observable<ObservedValueOf<L>>).subscribe(subscriber));
  return markStage(merged, lanes, { name: 'merge', effect: 'passes' });
}
