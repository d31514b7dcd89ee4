import { from, Observable, type ObservableInput, type OperatorFunction, type Subscription } from 'rxjs';
import { BufferOverflowError } from '../../src/errors.js';
import { subscribeLinked } from './batch-subscribe-linked.js';
import { Fifo } from './fifo.js';

/** Limits for {@link orderedMergeMap}. */
export interface OrderedMergeMapLimits {
  /** Inner observables subscribed at once, counted from the oldest not yet fully emitted. */
  readonly maxInFlight: number;
  /** Source values waiting for a slot; one more fails the stream with `BufferOverflowError`. */
  readonly maxQueued: number;
  /** Operator name for the overflow error, e.g. `check 'fraud'`. */
  readonly component: string;
}

interface Slot<R> {
  values: R[];
  done: boolean;
  sub: Subscription | undefined;
}

/**
 * Like `mergeMap` with a concurrency limit, but emits in source order: the oldest inner's values
 * go out as they arrive, later inners' values wait until every earlier inner has completed.
 * A slot stays taken until its values have gone out, so a slow head bounds what is buffered to
 * `maxInFlight` inners' output instead of letting finished work pile up behind it.
 */
export function orderedMergeMap<T, R>(
  project: (value: T) => ObservableInput<R>,
  limits: OrderedMergeMapLimits,
): OperatorFunction<T, R> {
  const { maxInFlight, maxQueued, component } = limits;
  return (source) =>
    new Observable<R>((subscriber) => {
      const queue = new Fifo<T>();
      const slots = new Fifo<Slot<R>>();
      // The head slot is tracked separately because Fifo has no peek; `slots` holds the rest in order.
      let head: Slot<R> | undefined;
      let active = 0;
      let sourceDone = false;
      let starting = false;

      // While flushing, even the head's new values are buffered: a downstream that makes the head
      // emit synchronously (a feedback loop) must not overtake values still being flushed.
      let flushing = false;
      const emitHead = (): void => {
        if (flushing) return;
        flushing = true;
        try {
          while (head !== undefined && !subscriber.closed) {
            while (head.values.length > 0) {
              const buffered = head.values;
              head.values = [];
              for (const v of buffered) subscriber.next(v);
            }
            if (!head.done) return;
            active -= 1;
            head = slots.shift();
          }
        } finally {
          flushing = false;
        }
      };

      const start = (value: T): void => {
        const slot: Slot<R> = { values: [], done: false, sub: undefined };
        if (head === undefined) head = slot;
        else slots.push(slot);
        active += 1;
        let input: ObservableInput<R>;
        try {
          input = project(value);
        } catch (err) {
          subscriber.error(err);
          return;
        }
        slot.sub = from(input).subscribe({
          next: (v) => {
            if (slot === head && !flushing) subscriber.next(v);
            else slot.values.push(v);
          },
          error: (err: unknown) => subscriber.error(err),
          complete: () => {
            slot.done = true;
            slot.sub = undefined;
            if (slot === head) {
              emitHead();
              fill();
            }
          },
        });
        if (slot.done) slot.sub = undefined;
      };

      // Iterative so a run of synchronous inners does not recurse once per value.
      const fill = (): void => {
        if (starting) return;
        starting = true;
        try {
          while (!subscriber.closed && active < maxInFlight && queue.length > 0) start(queue.shift() as T);
        } finally {
          starting = false;
        }
        if (sourceDone && active === 0 && queue.length === 0) subscriber.complete();
      };

      subscriber.add(() => {
        head?.sub?.unsubscribe();
        for (let s = slots.shift(); s !== undefined; s = slots.shift()) s.sub?.unsubscribe();
        queue.clear();
      });
      subscribeLinked(source, subscriber, {
        next: (value) => {
          queue.push(value);
          fill();
          if (queue.length > maxQueued) {
            const detail = `more than ${maxQueued} messages waiting for one of ${maxInFlight} slots ('maxQueued'); consume with a smaller in-flight credit or raise the limit`;
            subscriber.error(new BufferOverflowError(component, maxQueued, detail));
          }
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          sourceDone = true;
          fill();
        },
      });
    });
}
