import { defer, map, of, throwError, type Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { InvalidConfigError, TerminalError } from '../../src/errors.js';
import type { DeadLettered } from '../../src/dead-letter/dead-letter-record.js';
import { guardHandler, type Handled } from '../../operators/guard-handler.js';
import { currentSettlement, withSettlement } from '../../src/settle/settle-scope.js';
import { Settlement } from '../../src/settle/settlement.js';
import { env, testScheduler } from './realtime-fixtures.js';

type Out = Handled<number, string> | DeadLettered<number>;
const show = (o: Out): string => (o.kind === 'handled' ? `ok:${o.values.join('+')}@${o.attempts}` : `dlq:${o.record.error.name}@${o.record.attempts}`);

describe('guardHandler', () => {
  it('emits the handler values and the attempt count once the handler completes', () =>
    testScheduler().run(({ cold, expectObservable }) => {
      const guard = guardHandler<number, string>({ name: 'g', handle: () => cold('-a-b|'), sink: () => undefined });
      expectObservable(guard(env('x', 1)).pipe(map(show))).toBe('----(r|)', { r: 'ok:a+b@1' });
    }));

  it('retries transient failures and keeps only the successful try’s values', () =>
    testScheduler().run(({ cold, expectObservable }) => {
      const tries = [cold<string>('-a#'), cold<string>('-b#'), cold<string>('-c|')];
      const guard = guardHandler<number, string>({
        name: 'g',
        handle: (_e, attempt) => tries[attempt - 1]!,
        retry: { maxAttempts: 3, initialDelayMs: 10, jitter: 'none' },
        sink: () => undefined,
      });
      // try 1: 0-2, wait 10, try 2: 12-14, wait 20, try 3: 34-36
      expectObservable(guard(env('x', 1)).pipe(map(show))).toBe('36ms (r|)', { r: 'ok:c@3' });
    }));

  it('dead-letters after the last attempt and emits the dead letter once the sink has stored it', () =>
    testScheduler().run(({ cold, expectObservable, flush }) => {
      const stored: DeadLettered<number>[] = [];
      const guard = guardHandler<number, string>({
        name: 'ledger',
        handle: () => throwError(() => new Error('db down')),
        retry: { maxAttempts: 2, initialDelayMs: 5, jitter: 'none' },
        sink: (d) => {
          stored.push(d);
          return cold('---a|');
        },
      });
      expectObservable(guard(env('x', 1)).pipe(map(show))).toBe('8ms (r|)', { r: 'dlq:Error@2' });
      flush();
      expect(stored).toHaveLength(1);
      expect(stored[0]!.record).toMatchObject({ operator: 'guardHandler:ledger', attempts: 2, error: { name: 'Error', message: 'db down' }, failedAt: 5 });
    }));

  it('never retries a TerminalError', () =>
    testScheduler().run(({ expectObservable }) => {
      let calls = 0;
      const guard = guardHandler<number, string>({
        name: 'g',
        handle: () =>
          defer(() => {
            calls += 1;
            return throwError(() => new TerminalError('negative total'));
          }),
        retry: { maxAttempts: 5 },
        sink: () => of('stored'),
      });
      expectObservable(guard(env('x', 1)).pipe(map((o) => `${show(o)}/${calls}`))).toBe('(r|)', { r: 'dlq:TerminalError@1/1' });
    }));

  it('treats a handler that throws synchronously like a failed try', () =>
    testScheduler().run(({ expectObservable }) => {
      const guard = guardHandler<number, string>({
        name: 'g',
        handle: (e) => {
          if (e.data < 0) throw new RangeError('negative');
          return of('fine');
        },
        sink: () => undefined,
      });
      expectObservable(guard(env('x', -1)).pipe(map(show))).toBe('(r|)', { r: 'dlq:RangeError@1' });
    }));

  it('fails when the sink fails: a dead letter that was not stored must not be acked', () =>
    testScheduler().run(({ cold, expectObservable }) => {
      const guard = guardHandler<number, string>({ name: 'g', handle: () => throwError(() => new Error('x')), sink: () => cold('--#', undefined, 'dlq down') });
      expectObservable(guard(env('x', 1))).toBe('--#', undefined, 'dlq down');
    }));

  it('runs the handler afresh for each subscription (per-subscription attempt counting)', () => {
    const seen: string[] = [];
    let n = 0;
    const guard = guardHandler<number, string>({ name: 'g', handle: () => of(`v${++n}`), sink: () => undefined });
    const once: Observable<Out> = guard(env('x', 1));
    once.subscribe((o) => seen.push(show(o)));
    once.subscribe((o) => seen.push(show(o)));
    expect(seen).toEqual(['ok:v1@1', 'ok:v2@1']);
  });

  it('runs every try and the dead-letter sink in the scope of the input it was called for, however late', () =>
    testScheduler().run(({ flush }) => {
      const input = new Settlement('S:1', true, () => undefined);
      const scopes: string[] = [];
      const scope = () => currentSettlement()?.key ?? 'none';
      const guard = guardHandler<number, string>({
        name: 'g',
        handle: () => {
          scopes.push(`try in ${scope()}`);
          return throwError(() => new Error('down'));
        },
        retry: { maxAttempts: 2, initialDelayMs: 5, jitter: 'none' },
        sink: () => {
          scopes.push(`sink in ${scope()}`);
        },
      });
      // Called while the input is current (as keyed and deadLetter call it), subscribed outside.
      const outcome = withSettlement(input, () => guard(env('x', 1)));
      outcome.subscribe();
      flush();
      expect(scopes).toEqual(['try in S:1', 'try in S:1', 'sink in S:1']);
    }));

  it('rejects bad configuration at creation', () => {
    const ok = { name: 'g', handle: () => of(1), sink: () => undefined };
    expect(() => guardHandler({ ...ok, name: '' })).toThrow(InvalidConfigError);
    expect(() => guardHandler({ ...ok, handle: undefined as never })).toThrow(/handle/);
    expect(() => guardHandler({ ...ok, sink: undefined as never })).toThrow(/sink/);
    expect(() => guardHandler({ ...ok, retry: { maxAttempts: 0 } })).toThrow(/maxAttempts/);
  });
});
