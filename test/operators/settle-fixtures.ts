import { Observable, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';
import { holdCurrent, withSettlement } from '../../src/settle/settle-scope.js';
import { Settlement } from '../../src/settle/settlement.js';

/** When and how one input settled. */
export interface Settled {
  readonly value: string;
  readonly at: number;
  readonly ok: boolean;
}

/**
 * Stands for a JetStream stream source: pushes each value inside its own settlement (key
 * `S:<value>`), releases its own hold after the push, and logs when the input settles and how.
 */
export function settling<T>(scheduler: SchedulerLike, log: Settled[], keyOf: (value: T) => string = String): MonoTypeOperatorFunction<T> {
  return (source) =>
    new Observable<T>((subscriber) =>
      source.subscribe({
        next: (value) => {
          const key = keyOf(value);
          const s = new Settlement(`S:${key}`, true, (failure) => log.push({ value: key, at: scheduler.now(), ok: failure === undefined }));
          withSettlement(s, () => subscriber.next(value));
          s.release();
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      }),
    );
}

/**
 * Stands for a durable sink: holds the current settlement of each value for `ackMs` (virtual
 * time), then releases it — failed when `fails(value)` — and passes the value on at once.
 */
export function holdingSink<T>(scheduler: SchedulerLike, ackMs: number, fails: (value: T) => boolean = () => false): MonoTypeOperatorFunction<T> {
  return (source) =>
    new Observable<T>((subscriber) =>
      source.subscribe({
        next: (value) => {
          const held = holdCurrent();
          scheduler.schedule(() => {
            if (fails(value)) held?.fail(new Error('publish failed'));
            held?.release();
          }, ackMs);
          subscriber.next(value);
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      }),
    );
}
