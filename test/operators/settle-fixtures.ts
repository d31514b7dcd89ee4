import fc from 'fast-check';
import { Observable, type MonoTypeOperatorFunction, type SchedulerLike, type Subject } from 'rxjs';
import type { TestScheduler } from 'rxjs/testing';
import { expect } from 'vitest';
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

/** One step of {@link playSettleActions}. */
export type SettleAction = { kind: 'value'; size: number } | { kind: 'advance'; ms: number } | { kind: 'answer'; pick: number; ok: boolean };

/** Publishes a stand-in sink recorded (the inputs behind each, and the settlement it holds). */
export interface RecordedPublishes {
  readonly publishes: Array<{ inputs: number[]; held: Settlement | undefined }>;
  /** Input -> whether its effects succeeded, set once they are complete (a publish answered, or processing failed). */
  readonly done: Map<number, boolean>;
}

/**
 * Plays `actions` in virtual time: each value is pushed into `input` inside its own settlement
 * (its number is its index; `sizes` gets its size), each answer acknowledges or fails one recorded
 * publish. Every input must settle once, only after `done` has its outcome, and with that outcome.
 * Then completes `input`, runs the scheduler dry, acknowledges what is left and checks that every
 * input settled.
 */
export function playSettleActions(
  scheduler: TestScheduler,
  actions: readonly SettleAction[],
  input: Subject<number>,
  sink: RecordedPublishes,
  sizes: number[] = [],
): void {
  const outcome = new Map<number, boolean>();
  const answer = (i: number, ok: boolean): void => {
    const [p] = sink.publishes.splice(i, 1);
    for (const n of p!.inputs) sink.done.set(n, ok);
    if (!ok) p!.held?.fail(new Error('publish failed'));
    p!.held?.release();
  };
  let at = 0;
  for (const a of actions) {
    if (a.kind === 'advance') at += a.ms;
    scheduler.schedule(() => {
      if (a.kind === 'value') {
        const n = sizes.push(a.size) - 1;
        const s = new Settlement(`S:${n}`, true, (f) => {
          expect(outcome.has(n), `input ${n} settled twice`).toBe(false);
          expect(sink.done.has(n), `input ${n} settled before its batch's effects were complete`).toBe(true);
          expect(f === undefined, `input ${n} outcome`).toBe(sink.done.get(n));
          outcome.set(n, f === undefined);
        });
        withSettlement(s, () => input.next(n));
        s.release();
      } else if (a.kind === 'answer' && sink.publishes.length > 0) {
        answer(a.pick % sink.publishes.length, a.ok);
      }
    }, at);
  }
  scheduler.schedule(() => input.complete(), at);
  scheduler.flush();
  while (sink.publishes.length > 0) answer(0, true);
  expect(outcome.size, 'inputs settled').toBe(sizes.length);
}

/** Arbitrary steps for {@link playSettleActions}. */
export const settleActionArb: fc.Arbitrary<SettleAction> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('value' as const), size: fc.integer({ min: 1, max: 30 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('answer' as const), pick: fc.nat(), ok: fc.boolean() }) },
);
