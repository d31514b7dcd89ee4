import { Observable, type ObservableInput, type OperatorFunction, type Subscription } from 'rxjs';
import { BufferOverflowError } from '../../src/errors.js';
import { markStage } from '../../src/observe/lineage.js';
import { subscribeLinked } from './subscribe-linked.js';
import { Fifo } from './fifo.js';
import { HeldInputs, type HeldInput } from './held-inputs.js';

/** Limits for {@link orderedMergeMap}. */
export interface OrderedMergeMapLimits {
  /** Inner observables subscribed at once, counted from the oldest not yet fully emitted. */
  readonly maxInFlight: number;
  /** Source values waiting for a slot; one more fails the stream with `BufferOverflowError`. */
  readonly maxQueued: number;
  /** Operator name for errors, e.g. `check 'fraud'`. */
  readonly component: string;
  /** The stage's name in `describe`, e.g. `check:fraud`. */
  readonly stage: string;
  /** False: each inner's values go out as they arrive, whatever the order (plain `mergeMap` order). Default true. */
  readonly ordered?: boolean | undefined;
}

interface Slot<R> {
  readonly held: HeldInput;
  values: R[];
  done: boolean;
  sub: Subscription | undefined;
}

/**
 * Like `mergeMap` with a concurrency limit, but emits in source order: the oldest inner's values
 * go out as they arrive, later inners' values wait until every earlier inner has completed.
 * A slot stays taken until its values have gone out, so a slow head bounds what is buffered to
 * `maxInFlight` inners' output instead of letting finished work pile up behind it.
 *
 * Settling: each value's input is held from arrival until its inner has completed and its values
 * have gone out, in the input's scope, so it settles only once their effects downstream are
 * complete. `project` runs (and its result is subscribed) in the input's scope too. An inner that
 * fails fails its input (redelivered) and its buffered values are dropped; the stream goes on.
 * Without a settling input an inner's failure fails the stream. Inputs still held when the
 * stream stops early are failed.
 */
export function orderedMergeMap<T, R>(project: (value: T) => ObservableInput<R>, limits: OrderedMergeMapLimits): OperatorFunction<T, R> {
  const { maxInFlight, maxQueued, component } = limits;
  const ordered = limits.ordered !== false;
  return (source) =>
    markStage(
      new Observable<R>((subscriber) => {
        const holds = new HeldInputs(component);
        const queue = new Fifo<{ value: T; held: HeldInput }>();
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
              const slot = head;
              while (slot.values.length > 0) {
                const buffered = slot.values;
                slot.values = [];
                for (const v of buffered) slot.held.emit(subscriber, v);
              }
              if (!slot.done) return;
              // Its values are out, and what they started downstream holds the input itself.
              slot.held.done();
              active -= 1;
              head = slots.shift();
            }
          } finally {
            flushing = false;
          }
        };

        // Unordered: no head to wait for; a slot ends as soon as its inner has.
        const running = new Set<Slot<R>>();
        const startUnordered = (value: T, held: HeldInput): void => {
          const slot: Slot<R> = { held, values: [], done: false, sub: undefined };
          running.add(slot);
          active += 1;
          slot.sub = held.subscribe(() => project(value), {
            next(v) {
              held.emit(subscriber, v);
            },
            end() {
              slot.done = true;
              slot.sub = undefined;
              running.delete(slot);
              held.done();
              active -= 1;
              fill();
            },
            error(err) {
              subscriber.error(err);
            },
          });
          if (slot.done) slot.sub = undefined;
        };

        const start = (value: T, held: HeldInput): void => {
          if (!ordered) return startUnordered(value, held);
          const slot: Slot<R> = { held, values: [], done: false, sub: undefined };
          if (head === undefined) head = slot;
          else slots.push(slot);
          active += 1;
          // Method shorthand: see HeldInput.subscribe on why not arrow properties, once per message.
          slot.sub = held.subscribe(() => project(value), {
            next(v) {
              if (slot === head && !flushing) held.emit(subscriber, v);
              else slot.values.push(v);
            },
            end(failed) {
              // A failed input is delivered again and will give these values then.
              if (failed) slot.values = [];
              slot.done = true;
              slot.sub = undefined;
              if (slot === head) {
                emitHead();
                fill();
              }
            },
            error(err) {
              subscriber.error(err);
            },
          });
          if (slot.done) slot.sub = undefined;
        };

        // Iterative so a run of synchronous inners does not recurse once per value.
        const fill = (): void => {
          if (starting) return;
          starting = true;
          try {
            while (!subscriber.closed && active < maxInFlight && queue.length > 0) {
              const next = queue.shift()!;
              start(next.value, next.held);
            }
          } finally {
            starting = false;
          }
          if (sourceDone && active === 0 && queue.length === 0) subscriber.complete();
        };

        subscriber.add(() => {
          head?.sub?.unsubscribe();
          for (let s = slots.shift(); s !== undefined; s = slots.shift()) s.sub?.unsubscribe();
          for (const s of running) s.sub?.unsubscribe();
          queue.clear();
          holds.interrupt();
        });
        subscribeLinked(source, subscriber, {
          next: (value) => {
            queue.push({ value, held: holds.take() });
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
      }),
      source,
      { name: limits.stage, effect: 'passes' },
    );
}
