import { map, of, tap, timer, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../src/errors.js';
import { defineTopology } from '../../src/runtime/define-topology.js';
import { describeTopology } from '../../src/runtime/describe-topology.js';
import { currentSettlement } from '../../src/settle/settle-scope.js';
import { poll, PollFailedError, type PollConfig } from '../../operators/poll.js';
import { settleMap } from '../../operators/settle-map.js';
import { slowSink } from '../helpers/settle-log.js';

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

/** A table of rows 1..n read `page` at a time after a cursor (the last row id read). */
function table(n: number, page: number) {
  return (after: number) => {
    const items = Array.from({ length: n }, (_, i) => i + 1)
      .filter((r) => r > after)
      .slice(0, page);
    return of({ items, cursor: items.at(-1) ?? after, more: items.length === page });
  };
}

/** A cursor kept in a variable (stands for a KV bucket), with every save recorded as `cursor@frame`. */
function cursorStore(now: () => number) {
  let saved: number | undefined;
  const saves: string[] = [];
  const cursor: PollConfig<number>['cursor'] = {
    initial: 0,
    load: () => of(saved),
    save: (c) => {
      saved = c;
      saves.push(`${c}@${now()}`);
      return of(true);
    },
  };
  return { cursor, saves, saved: () => saved };
}

describe('poll advances its cursor only after the effects of what it read', () => {
  it('poll -> settleMap (async) -> slow sink: a crash mid-way loses nothing after a restart (was: 10 of 10 rows lost)', () => {
    const ts = scheduler();
    const kv = cursorStore(() => ts.now());
    const sunk = new Set<number>();
    const pipeline = (): Observable<number> =>
      poll(table(10, 4), { name: 'rows', everyMs: 50, cursor: kv.cursor }).pipe(
        settleMap({ name: 'transform', concurrency: 2, project: (r: number) => timer(3).pipe(map(() => r)) }),
        slowSink(() => timer(5)),
        tap((r) => sunk.add(r)),
      );
    ts.run(({ flush }) => {
      // rows 1-4 are written by frame 11 (two at a time, 3 + 5 frames each); then rows 5-8 start.
      const first = pipeline().subscribe();
      ts.schedule(() => first.unsubscribe(), 12);
      flush();
    });
    expect([...sunk].sort((a, b) => a - b)).toEqual([1, 2, 3, 4]);
    // saved after rows 1-4 were written, not when they were read (frame 0)
    expect(kv.saves).toEqual(['4@11']);
    ts.run(({ flush }) => {
      const again = pipeline().subscribe();
      ts.schedule(() => again.unsubscribe(), 200);
      flush();
    });
    expect([...sunk].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(kv.saved()).toBe(10);
  });

  it('rounds are saved in fetch order: a later round that settles first waits for the earlier one', () => {
    const ts = scheduler();
    const kv = cursorStore(() => ts.now());
    ts.run(({ flush }) => {
      // two rounds in flight; row 1 takes 10 frames, the others 1
      const sub = poll(table(4, 2), { everyMs: 100, maxUnsettledRounds: 2, cursor: kv.cursor })
        .pipe(slowSink((r: number) => timer(r === 1 ? 10 : 1)))
        .subscribe();
      ts.schedule(() => sub.unsubscribe(), 50);
      flush();
    });
    // round [3,4] settled at 1 but is saved only with round [1,2], at 10; then the empty round.
    expect(kv.saves).toEqual(['4@10', '4@10']);
  });

  it('an item whose effects failed is emitted again, alone, after the retry delay; no cursor is saved past it before it succeeds (was: its round and every later one fetched again)', () => {
    const ts = scheduler();
    const kv = cursorStore(() => ts.now());
    const errors: string[] = [];
    const seen: string[] = [];
    let failOnce = true;
    ts.run(({ flush }) => {
      const sub = poll(table(4, 2), {
        everyMs: 20,
        maxUnsettledRounds: 2,
        retry: { initialDelayMs: 20 },
        cursor: kv.cursor,
        onError: (e, n) => errors.push(`${e.message}/${n}`),
      })
        .pipe(
          tap((r) => seen.push(`${r}@${ts.now()}`)),
          slowSink((r: number) => {
            if (r === 2 && failOnce) {
              failOnce = false;
              return timer(5).pipe(
                map(() => {
                  throw new Error('sink rejected 2');
                }),
              );
            }
            return timer(1);
          }),
        )
        .subscribe();
      ts.schedule(() => sub.unsubscribe(), 100);
      flush();
    });
    // rounds [1,2] and [3,4] at 0; row 2 fails at 5 and comes again at 25, alone.
    expect(seen).toEqual(['1@0', '2@0', '3@0', '4@0', '2@25']);
    expect(errors).toEqual(['sink rejected 2/1']);
    // round [3,4] settled at 1 but nothing is saved until row 2 is done; then both rounds at
    // once (then each empty round's)
    expect(kv.saves.slice(0, 2)).toEqual(['4@26', '4@26']);
  });

  it('outside a topology (no dead letters) an item given up on is a failed poll: tried again, then PollFailedError', () => {
    const ts = scheduler();
    const errors: string[] = [];
    const tries: number[] = [];
    let failed: unknown;
    ts.run(({ flush }) => {
      poll(table(2, 2), {
        everyMs: 1000,
        maxConsecutiveFailures: 3,
        retry: { initialDelayMs: 10 },
        cursor: { initial: 0 },
        onError: (e, n) => errors.push(`${e.message}/${n}`),
      })
        .pipe(
          settleMap({
            name: 'erp',
            project: (r: number) => {
              if (r === 2) {
                tries.push(ts.now());
                throw new Error('row 2 is bad');
              }
              return of(r);
            },
          }),
        )
        .subscribe({ error: (e: unknown) => (failed = e) });
      flush();
    });
    // 'resume' (settleMap's default) is final, but there is nowhere to put the row
    expect(tries).toEqual([0, 10, 30]);
    expect(errors).toEqual(['row 2 is bad/1', 'row 2 is bad/2', 'row 2 is bad/3']);
    expect(failed).toBeInstanceOf(PollFailedError);
  });

  it('each item has its own settlement within its round: replay-stable only for a named, deterministic poll', () => {
    const keys: string[] = [];
    const record = () => {
      const s = currentSettlement();
      keys.push(`${s?.key}/${s?.replayStable}`);
    };
    ts1(() => poll(table(3, 2), { name: 'orders', deterministic: true, everyMs: 10, cursor: { initial: 0 } }).pipe(tap(record)));
    ts1(() => poll(table(3, 2), { everyMs: 10, cursor: { initial: 0 } }).pipe(tap(record)));
    // one settlement per item, named by the round's cursor and the item's place in it
    expect(keys).toEqual([
      'poll:orders:0:0/true',
      'poll:orders:0:1/true',
      'poll:orders:2:0/true',
      'poll:poll:0:0/false',
      'poll:poll:0:1/false',
      'poll:poll:2:0/false',
    ]);
    expect(() => poll(table(1, 1), { deterministic: true, everyMs: 1, cursor: { initial: 0 } })).toThrow(InvalidConfigError);
    expect(() => poll(table(1, 1), { everyMs: 1, maxUnsettledRounds: 0, cursor: { initial: 0 } })).toThrow(/maxUnsettledRounds/);
  });

  it('describe follows a poll to its sinks: exactly-once into a durable sink only when deterministic', () => {
    const d = describeTopology(
      defineTopology('polls', (t) => [
        poll(table(1, 1), { name: 'ledger', deterministic: true, everyMs: 1000, cursor: { initial: 0 } }).pipe(
          settleMap({ name: 'enrich', project: (r: number) => of(r) }),
          t.sink('ledger.out', { durable: true }),
        ),
        poll(table(1, 1), { name: 'crm', everyMs: 1000, cursor: { initial: 0 } }).pipe(t.sink('crm.out', { durable: true })),
        poll(table(1, 1), { name: 'crm2', everyMs: 1000, cursor: { initial: 0 } }).pipe(t.sink('crm2.out')),
      ]),
    );
    expect(d.paths.map((p) => `${p.from} -> ${p.to}: ${p.guarantee}`)).toEqual([
      'poll:ledger -> ledger.out: exactly-once',
      'poll:crm -> crm.out: at-least-once',
      'poll:crm2 -> crm2.out: at-least-once',
    ]);
  });
});

/** Subscribes `make()` in virtual time for 15 frames. */
function ts1(make: () => Observable<unknown>): void {
  const ts = scheduler();
  ts.run(({ flush }) => {
    const sub = make().subscribe();
    ts.schedule(() => sub.unsubscribe(), 15);
    flush();
  });
}
