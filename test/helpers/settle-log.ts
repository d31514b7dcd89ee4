import { Observable, type MonoTypeOperatorFunction, type OperatorFunction } from 'rxjs';
import { holdCurrent, withSettlement } from '../../src/settle/settle-scope.js';
import { Settlement } from '../../src/settle/settlement.js';

/** How and when one input settled. */
export interface Settled {
  readonly as: 'acked' | 'failed';
  /** `now()` when it settled (a virtual frame under TestScheduler). */
  readonly at: number;
  readonly error?: string | undefined;
}

/**
 * Stands for a JetStream stream source in operator tests: `inputs()` pushes each value inside a
 * fresh `Settlement` scope and releases the creator's hold right after, exactly as
 * `stream-source.ts` does, and records when and how each input settled. Assertions then say WHEN
 * an input may be acknowledged, not only what was emitted.
 */
export class SettleLog {
  private readonly outcomes = new Map<string, Settled>();
  private readonly open = new Map<string, Settlement>();
  private readonly twice: string[] = [];

  constructor(private readonly now: () => number = () => 0) {}

  /** Each value in its own settlement, keyed `keyOf(value)` (default `String(value)`). */
  inputs<T>(keyOf: (value: T) => string = String): MonoTypeOperatorFunction<T> {
    return (source) =>
      new Observable<T>((subscriber) =>
        source.subscribe({
          next: (value) => {
            const s = this.settlement(keyOf(value));
            try {
              withSettlement(s, () => subscriber.next(value));
            } finally {
              s.release();
            }
          },
          error: (err: unknown) => subscriber.error(err),
          complete: () => subscriber.complete(),
        }),
      );
  }

  /** A new input settlement under `key`, recorded when it settles (the caller releases it). */
  settlement(key: string, replayStable = true): Settlement {
    const s = new Settlement(key, replayStable, (failure) => {
      this.open.delete(key);
      if (this.outcomes.has(key)) this.twice.push(key);
      this.outcomes.set(key, { as: failure === undefined ? 'acked' : 'failed', at: this.now(), error: failure?.message });
    });
    this.open.set(key, s);
    return s;
  }

  /** How `key` settled, or `'held'` while it has not. */
  state(key: string): Settled['as'] | 'held' | 'unknown' {
    return this.outcomes.get(key)?.as ?? (this.open.has(key) ? 'held' : 'unknown');
  }

  /** Every settled input: `{ key: 'acked@5' }` / `'failed@5'`, for one `toEqual`. */
  summary(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of this.outcomes) out[k] = `${v.as}@${v.at}`;
    return out;
  }

  get(key: string): Settled | undefined {
    return this.outcomes.get(key);
  }

  /** Inputs not settled yet. */
  held(): string[] {
    return [...this.open.keys()];
  }

  /** Inputs that settled more than once (must stay empty: the bookkeeping allows once). */
  settledTwice(): string[] {
    return [...this.twice];
  }
}

/**
 * A settle-aware fake sink: holds the input it is working for (like a durable sink awaiting its
 * publish ack) until `answer(value)` emits, then passes the value on; an error fails the input.
 */
export function slowSink<T>(answer: (value: T) => Observable<unknown>): OperatorFunction<T, T> {
  return (source) =>
    new Observable<T>((subscriber) => {
      let inFlight = 0;
      let completed = false;
      const done = (): void => {
        if (--inFlight === 0 && completed) subscriber.complete();
      };
      subscriber.add(
        source.subscribe({
          next: (value) => {
            const held = holdCurrent();
            inFlight++;
            subscriber.add(
              answer(value).subscribe({
                error: (err: unknown) => {
                  held?.fail(err instanceof Error ? err : new Error(String(err)));
                  held?.release();
                  done();
                },
                complete: () => {
                  withSettlement(held, () => subscriber.next(value));
                  held?.release();
                  done();
                },
              }),
            );
          },
          error: (err: unknown) => subscriber.error(err),
          complete: () => {
            completed = true;
            if (inFlight === 0) subscriber.complete();
          },
        }),
      );
    });
}
