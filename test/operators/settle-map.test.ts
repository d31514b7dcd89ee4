import { delay, Observable, of, Subject, take, throwError, timer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { settleMap } from '../../operators/settle-map.js';
import { InvalidConfigError } from '../../src/errors.js';
import { holdCurrent, withSettlement } from '../../src/settle/settle-scope.js';
import { Settlement } from '../../src/settle/settlement.js';

const ts = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

/** Pushes `value` into `input$` inside a fresh settlement, as the stream source does; returns what it settled as. */
function push<T>(input$: Subject<T>, key: string, value: T, outcomes: Map<string, string>): void {
  const s = new Settlement(key, true, (f) => outcomes.set(key, f === undefined ? 'ok' : `failed: ${f.message}`));
  withSettlement(s, () => input$.next(value));
  s.release();
}

describe('settleMap', () => {
  it('emits the results of each async project, in completion order with concurrency', () => {
    ts().run(({ cold, expectObservable }) => {
      const source = cold('a-b-c|');
      const durations: Record<string, string> = { a: '----x|', b: '-y|', c: '-z|' };
      // c waits for a free slot (b's, at frame 4).
      expectObservable(source.pipe(settleMap({ name: 't', concurrency: 2, project: (v) => cold(durations[v]!, { x: 'A', y: 'B', z: 'C' }) }))).toBe('---BAC|');
    });
  });

  it('with concurrency 1, works one value at a time in order', () => {
    ts().run(({ cold, expectObservable }) => {
      expectObservable(cold('(ab)|').pipe(settleMap({ name: 't', project: (v) => cold('--x|', { x: v.toUpperCase() }) }))).toBe('--A--B|');
    });
  });

  it('keeps each input held until its project is done and its result emitted downstream', () => {
    ts().run(({ flush }) => {
      const input$ = new Subject<string>();
      const outcomes = new Map<string, string>();
      const downstream: Array<{ v: string; held: Settlement | undefined }> = [];
      input$
        .pipe(settleMap({ name: 't', concurrency: 5, project: (v) => of(v).pipe(delay(v === 'a' ? 10 : 5)) }))
        .subscribe((v) => downstream.push({ v, held: holdCurrent() }));
      push(input$, 'S:1', 'a', outcomes);
      push(input$, 'S:2', 'b', outcomes);
      expect(outcomes.size).toBe(0);
      flush();
      expect(downstream.map((d) => d.v)).toEqual(['b', 'a']);
      // The downstream (a sink) still holds them: not settled until it releases.
      expect(outcomes.size).toBe(0);
      for (const d of downstream) d.held?.release();
      expect(Object.fromEntries(outcomes)).toEqual({ 'S:1': 'ok', 'S:2': 'ok' });
    });
  });

  it('fails the input when project throws or errors, and carries on with the next', () => {
    const input$ = new Subject<number>();
    const outcomes = new Map<string, string>();
    const out: number[] = [];
    let completed = false;
    input$
      .pipe(
        settleMap({
          name: 't',
          project: (n) => {
            if (n === 1) throw new Error('sync boom');
            if (n === 2) return throwError(() => new Error('async boom'));
            return of(n * 10);
          },
        }),
      )
      .subscribe({ next: (n) => out.push(n), complete: () => (completed = true) });
    push(input$, 'S:1', 1, outcomes);
    push(input$, 'S:2', 2, outcomes);
    push(input$, 'S:3', 3, outcomes);
    input$.complete();
    expect(out).toEqual([30]);
    expect(Object.fromEntries(outcomes)).toEqual({ 'S:1': 'failed: sync boom', 'S:2': 'failed: async boom', 'S:3': 'ok' });
    expect(completed).toBe(true);
  });

  it('without a settling input (core NATS), an error ends the stream as mergeMap would', () => {
    ts().run(({ cold, expectObservable }) => {
      expectObservable(cold('a|').pipe(settleMap({ name: 't', project: () => throwError(() => new Error('x')) }))).toBe('#', undefined, new Error('x'));
    });
  });

  it('fails the queued inputs when unsubscribed before they were worked on', () => {
    const input$ = new Subject<number>();
    const outcomes = new Map<string, string>();
    const sub = input$.pipe(settleMap({ name: 't', project: () => timer(1_000_000) })).subscribe();
    push(input$, 'S:1', 1, outcomes);
    push(input$, 'S:2', 2, outcomes);
    sub.unsubscribe();
    expect(outcomes.get('S:2')).toMatch(/^failed: settleMap 't' unsubscribed/);
  });

  it('stops a synchronous source when unsubscribed', () => {
    let produced = 0;
    const source = new Observable<number>((subscriber) => {
      for (let i = 1; i <= 10 && !subscriber.closed; i++) {
        produced += 1;
        subscriber.next(i);
      }
    });
    source.pipe(settleMap({ name: 't', project: (n) => of(n) }), take(3)).subscribe();
    expect(produced).toBe(3);
  });

  it('rejects a bad concurrency at creation', () => {
    expect(() => settleMap({ name: 't', concurrency: 0, project: () => of(1) })).toThrow(InvalidConfigError);
    expect(() => settleMap({ name: 't', concurrency: 0, project: () => of(1) })).toThrow("settleMap 't': 'concurrency' must be an integer >= 1, got 0");
  });
});
