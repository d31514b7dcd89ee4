import { VirtualTimeScheduler } from 'rxjs';
import { InvalidConfigError } from '../errors.js';

/**
 * Processing time that moves only when a test says so: an RxJS scheduler whose `now()` starts at
 * `startTimeMs` and whose timers run in time order as {@link advance} passes them. Everything in a
 * topology times itself through its scheduler (batches, windows, retries, timers, ack waits on the
 * in-process transport), so one clock drives them all.
 */
export class ManualClock extends VirtualTimeScheduler {
  constructor(startTimeMs = 0) {
    super();
    if (!Number.isFinite(startTimeMs)) throw new InvalidConfigError('ManualClock', 'startTimeMs', `must be a finite number, got ${startTimeMs}`);
    this.frame = startTimeMs;
  }

  /** Moves time forward by `ms`, running every timer due by then, in order. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new InvalidConfigError('ManualClock', 'ms', `must be >= 0, got ${ms}`);
    const target = this.frame + ms;
    this.maxFrames = target;
    try {
      this.flush();
    } finally {
      this.maxFrames = Infinity;
      this.frame = Math.max(this.frame, target);
    }
  }
}
