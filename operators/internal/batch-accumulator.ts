import type { SchedulerLike, Subscription } from 'rxjs';

/** Why a micro-batch was cut. */
export type BatchCutReason = 'count' | 'bytes' | 'wait' | 'idle' | 'complete';

/** Limits of one micro-batch, already validated. */
export interface BatchLimits<T> {
  readonly maxCount: number;
  readonly maxWaitMs: number;
  readonly maxBytes: number | undefined;
  readonly idleMs: number | undefined;
  readonly sizeOf: (value: T) => number;
  readonly scheduler: SchedulerLike;
}

/**
 * Cuts a stream of values into batches by count, bytes, time since the batch's first value and
 * inactivity. Shared by `microBatch` and `microBatchProcess` so both cut identically.
 *
 * `push` may call `onBatch` synchronously; `onBatch` may dispose the accumulator (downstream
 * unsubscribed), which is why every step after a cut re-checks `disposed` before arming a timer:
 * a timer armed after teardown would keep the process alive and fire into a closed subscriber.
 */
export class BatchAccumulator<T> {
  private batch: T[] = [];
  private bytes = 0;
  private waitTimer: Subscription | undefined;
  private idleTimer: Subscription | undefined;
  private disposed = false;

  constructor(
    private readonly limits: BatchLimits<T>,
    private readonly onBatch: (batch: T[], reason: BatchCutReason) => void,
  ) {}

  /** Values in the batch being formed. */
  get count(): number {
    return this.batch.length;
  }

  /** Adds a value; throws what `sizeOf` throws (before the value is added). */
  push(value: T): void {
    const { maxCount, maxBytes, maxWaitMs, idleMs, scheduler } = this.limits;
    const size = maxBytes === undefined ? 0 : this.limits.sizeOf(value);
    if (maxBytes !== undefined && this.batch.length > 0 && this.bytes + size > maxBytes) {
      this.cut('bytes');
      if (this.disposed) return;
    }
    this.batch.push(value);
    this.bytes += size;
    if (this.batch.length === 1) {
      this.waitTimer = scheduler.schedule(() => this.cut('wait'), maxWaitMs);
    }
    if (idleMs !== undefined) {
      this.idleTimer?.unsubscribe();
      this.idleTimer = scheduler.schedule(() => this.cut('idle'), idleMs);
    }
    if (this.batch.length >= maxCount) this.cut('count');
    else if (maxBytes !== undefined && this.bytes >= maxBytes) this.cut('bytes');
  }

  /** Emits the batch being formed, if any. */
  cut(reason: BatchCutReason): void {
    this.clearTimers();
    if (this.batch.length === 0) return;
    // Swap before emitting: onBatch may re-enter push().
    const out = this.batch;
    this.batch = [];
    this.bytes = 0;
    this.onBatch(out, reason);
  }

  /** Cancels timers and drops the batch being formed, returning what it dropped. */
  dispose(): T[] {
    this.disposed = true;
    this.clearTimers();
    const dropped = this.batch;
    this.batch = [];
    return dropped;
  }

  private clearTimers(): void {
    this.waitTimer?.unsubscribe();
    this.waitTimer = undefined;
    this.idleTimer?.unsubscribe();
    this.idleTimer = undefined;
  }
}
