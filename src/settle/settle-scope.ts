import { Settlement } from './settlement.js';

/*
 * The settlement of the input being pushed through a pipeline right now. RxJS delivers a value
 * through every synchronous stage in one call stack, so the source sets the scope around its
 * `next` and any stage downstream — map, filter, route, a sink, a batch — can find the input it
 * is working for without the value having to carry it (values change shape; the scope does not).
 *
 * A stage that keeps working after the call returns (a publish ack, a batch, an async function)
 * takes a hold and later re-enters the scope of what it holds when it emits. A stage that does
 * not (a bare `mergeMap` over a promise, `delay`) emits outside any scope: see `settleMap`.
 */
let current: Settlement | undefined;

/** The settlement of the input being pushed through now, if it came from a settling source. */
export function currentSettlement(): Settlement | undefined {
  return current;
}

/** Runs `fn` with `settlement` as the current one (undefined: outside any), restoring the previous after. */
export function withSettlement<R>(settlement: Settlement | undefined, fn: () => R): R {
  const previous = current;
  current = settlement;
  try {
    return fn();
  } finally {
    current = previous;
  }
}

/**
 * `withSettlement` for a source's per-message path, without a closure per message: makes
 * `settlement` the current one and returns the previous, which the caller must restore with
 * {@link exitSettlement} in a `finally`.
 */
export function enterSettlement(settlement: Settlement | undefined): Settlement | undefined {
  const previous = current;
  current = settlement;
  return previous;
}

/** Restores the settlement {@link enterSettlement} returned. */
export function exitSettlement(previous: Settlement | undefined): void {
  current = previous;
}

/**
 * Holds the current settlement for work that outlives this call. Returns it, or undefined when
 * there is none (a core-NATS source, a timer) or it has already settled (an earlier stage lost
 * track of the input: see `Settlement.hold`).
 */
export function holdCurrent(): Settlement | undefined {
  const s = current;
  return s !== undefined && s.hold() ? s : undefined;
}
