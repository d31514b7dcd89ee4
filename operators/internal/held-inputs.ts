import { from, Subscription, type ObservableInput, type Subscriber } from 'rxjs';
import { ensureError, TopologyFailedError } from '../../src/errors.js';
import { InterruptedError } from '../../src/settle/interrupted-error.js';
import { holdCurrent, withSettlement } from '../../src/settle/settle-scope.js';
import type { Settlement } from '../../src/settle/settlement.js';
import type { SupervisionMode } from '../../src/settle/supervision.js';

/** How a failed work is handled: the operator's `supervision`, and its `<kind>:<name>` for dead letters. */
export interface WorkSupervision {
  readonly mode: SupervisionMode;
  readonly part: string;
}

/** How one input's work ended, as {@link HeldInput.subscribe} reports it. */
export interface HeldWorkObserver<R> {
  /** A value of the work (outside any scope: pass it on with {@link HeldInput.emit}). */
  next(value: R): void;
  /**
   * The work is over: it completed, or it failed and the input was failed (it will be
   * redelivered). `failed` tells which; either way the caller goes on with the next input.
   */
  end(failed: boolean): void;
  /** The work failed and no settling input stands behind it: the stream must fail, as `mergeMap` would. */
  error(err: unknown): void;
}

/**
 * One input an asynchronous operator is working for, held from its arrival until its results and
 * their synchronous effects are out. Undefined settlement (a core-NATS input, a test without a
 * source): every call still works and settles nothing.
 */
export class HeldInput {
  private open: boolean;

  /** @internal made by {@link HeldInputs.take} */
  constructor(
    readonly settlement: Settlement | undefined,
    private readonly owner: Set<HeldInput>,
    private readonly supervision?: WorkSupervision | undefined,
  ) {
    this.open = settlement !== undefined;
    if (this.open) owner.add(this);
  }

  /** True when a settling source stands behind the input: a failure then fails it, not the stream. */
  get settling(): boolean {
    return this.settlement !== undefined;
  }

  /** Passes `value` on inside the input's scope, so holders downstream (a sink) hold this input. */
  emit<R>(subscriber: Subscriber<R>, value: R): void {
    withSettlement(this.settlement, () => subscriber.next(value));
  }

  /**
   * Starts the work for this input: `work()` is called and subscribed in the input's scope, so
   * what it does on subscription (a dead-letter store, a nested holder) holds this input. A
   * failure (error or throw) fails the input when it is settling and reports `end(true)`;
   * otherwise it goes to `error`. Completion reports `end(false)`; the caller releases with
   * {@link done} once it has passed the values on (it may buffer them first).
   */
  subscribe<R>(work: () => ObservableInput<R>, observer: HeldWorkObserver<R>): Subscription {
    // This runs once per message: no `inSettlement` layer, and method shorthand rather than
    // arrow properties, which tsx's esbuild (keepNames) would wrap in an Object.defineProperty
    // call each time.
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- see above
    const held = this;
    const inner = {
      next(value: R): void {
        observer.next(value);
      },
      error(err: unknown): void {
        held.workFailed(err, observer);
      },
      complete(): void {
        observer.end(false);
      },
    };
    return withSettlement(this.settlement, () => {
      let input: ObservableInput<R>;
      try {
        input = work();
      } catch (err) {
        this.workFailed(err, observer);
        return Subscription.EMPTY;
      }
      return from(input).subscribe(inner);
    });
  }

  /** Releases the hold: the input's results are out (or it was dropped for good). Once; later calls do nothing. */
  done(): void {
    if (!this.close()) return;
    this.settlement!.release();
  }

  /** Fails the input and releases the hold: it is redelivered, and dead-lettered after its last delivery. Once. */
  failed(err: unknown): void {
    if (!this.close()) return;
    this.settlement!.fail(ensureError(err));
    this.settlement!.release();
  }

  private workFailed(err: unknown, observer: HeldWorkObserver<unknown>): void {
    const sup = this.supervision;
    if (sup?.mode === 'stop') {
      // Not acknowledged (the next run gets it again), and the run ends naming this operator.
      this.failed(err);
      const error = ensureError(err);
      return observer.error(new TopologyFailedError(undefined, sup.part, error));
    }
    if (!this.settling) return observer.error(err);
    if (sup !== undefined && this.close()) {
      this.settlement!.fail(ensureError(err), sup.mode === 'resume' ? 'resume' : 'retry', sup.part);
      this.settlement!.release();
    } else this.failed(err);
    observer.end(true);
  }

  private close(): boolean {
    if (!this.open) return false;
    this.open = false;
    this.owner.delete(this);
    return true;
  }
}

/**
 * The settle plumbing of Sluice's asynchronous real-time operators (`check`, `guard`,
 * `keyed`, via `orderedMergeMap` where they share it), in one place. The rules, from
 * `src/settle/settle-scope.ts`: hold the current input when a value arrives ({@link take}); do
 * its work and emit its results inside its scope ({@link HeldInput.subscribe},
 * {@link HeldInput.emit}); release once they are out ({@link HeldInput.done}); a failed work
 * fails the input ({@link HeldInput.failed}); what is still held when the operator stops early
 * (unsubscribed, failed, overflowed) was not processed, so it is failed for redelivery
 * ({@link interrupt}).
 */
export class HeldInputs {
  private readonly open = new Set<HeldInput>();

  /**
   * @param component names the operator in the error an interrupted input is failed with.
   * @param supervision what a failed work does to its input (see `SupervisionMode`); without it,
   * the input is failed for redelivery (`'retry'`).
   */
  constructor(
    private readonly component: string,
    private readonly supervision?: WorkSupervision | undefined,
  ) {}

  /** Holds the input being pushed through now; call it in `next`, before anything asynchronous. */
  take(): HeldInput {
    return new HeldInput(holdCurrent(), this.open, this.supervision);
  }

  /** Fails every input still held (they were not processed: redeliver them). Call it on teardown. */
  interrupt(): void {
    if (this.open.size === 0) return;
    const err = new InterruptedError(this.component, 'stopped before this message was processed');
    for (const held of [...this.open]) held.failed(err);
  }
}
