/** Receives the size of each batch a batching operator emits. */
export type BatchObserver = (operator: string, name: string, size: number) => void;

let observer: BatchObserver | undefined;

/**
 * Sets (or, with undefined, removes) the process's batch observer; the metrics endpoint of
 * `sluice run --metrics-port` is the one user. Process-wide, like the settlement scope, because
 * operators are plain RxJS functions with no handle on the runtime running them.
 */
export function observeBatches(next: BatchObserver | undefined): void {
  observer = next;
}

/** Called by batching operators once per emitted batch: one check when nobody observes. */
export function reportBatch(operator: string, name: string, size: number): void {
  if (observer !== undefined) observer(operator, name, size);
}
