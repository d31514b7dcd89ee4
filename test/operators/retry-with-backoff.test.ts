import fc from 'fast-check';
import { asyncScheduler, defer, EMPTY, NEVER, of, take, throwError } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { DecodeError, InvalidConfigError, TerminalError } from '../../src/errors.js';
import { backoffDelayMs, isRetryableByDefault, retryWithBackoff, type BackoffPolicy } from '../../operators/retry-with-backoff.js';
import { settleMap } from '../../operators/settle-map.js';
import { defineTopology } from '../../src/runtime/define-topology.js';
import { describeTopology } from '../../src/runtime/describe-topology.js';
import { currentSettlement, withSettlement } from '../../src/settle/settle-scope.js';
import { Settlement } from '../../src/settle/settlement.js';
import { SettleLog } from '../helpers/settle-log.js';
import { testScheduler, endlessSource } from './realtime-fixtures.js';

/** A source that fails `failures` times, then emits 'ok'; records the virtual time of each try. */
function flaky(failures: number, tries: number[], error: () => unknown = () => new Error('transient')) {
  return defer(() => {
    tries.push(asyncScheduler.now());
    return tries.length <= failures ? throwError(error) : of('ok');
  });
}

describe('retryWithBackoff', () => {
  it('retries with exponentially growing delays, capped at maxDelayMs', () =>
    testScheduler().run(({ expectObservable, flush }) => {
      const tries: number[] = [];
      const policy = { maxAttempts: 6, initialDelayMs: 10, multiplier: 3, maxDelayMs: 100, jitter: 'none' as const };
      expectObservable(flaky(5, tries).pipe(retryWithBackoff(policy))).toBe('330ms (a|)', { a: 'ok' });
      flush();
      // delays 10, 30, 90, then 100 and 100 (capped)
      expect(tries).toEqual([0, 10, 40, 130, 230, 330]);
    }));

  it('gives up after maxAttempts tries with the last error, unchanged', () =>
    testScheduler().run(({ expectObservable, flush }) => {
      const tries: number[] = [];
      const boom = new Error('still down');
      expectObservable(flaky(99, tries, () => boom).pipe(retryWithBackoff({ maxAttempts: 3, initialDelayMs: 5, jitter: 'none' }))).toBe(
        '15ms #',
        undefined,
        boom,
      );
      flush();
      expect(tries).toEqual([0, 5, 15]);
    }));

  it('never retries a TerminalError or DecodeError by default', () =>
    testScheduler().run(({ expectObservable, flush }) => {
      const tries: number[] = [];
      const terminal = new TerminalError('bad order');
      expectObservable(flaky(9, tries, () => terminal).pipe(retryWithBackoff({ maxAttempts: 5 }))).toBe('#', undefined, terminal);
      flush();
      expect(tries).toEqual([0]);
      expect(isRetryableByDefault(new DecodeError({ subject: 'a' }, 'application/json', 'bad'))).toBe(false);
      expect(isRetryableByDefault(new Error('x'))).toBe(true);
      expect(isRetryableByDefault('a string')).toBe(true);
    }));

  it('asks isRetryable when given; a throwing isRetryable fails the output', () =>
    testScheduler().run(({ expectObservable }) => {
      const onlyTimeouts = retryWithBackoff<string>({
        maxAttempts: 5,
        initialDelayMs: 1,
        jitter: 'none',
        isRetryable: (e) => (e as Error).message === 'timeout',
      });
      expectObservable(flaky(1, [], () => new Error('timeout')).pipe(onlyTimeouts)).toBe('1ms (a|)', { a: 'ok' });
      expectObservable(flaky(1, [], () => new Error('denied')).pipe(onlyTimeouts)).toBe('#', undefined, new Error('denied'));
      const broken = retryWithBackoff<string>({
        isRetryable: () => {
          throw new Error('classifier');
        },
      });
      expectObservable(flaky(1, []).pipe(broken)).toBe('#', undefined, new Error('classifier'));
    }));

  it('applies jitter from the injected random source', () =>
    testScheduler().run(({ expectObservable }) => {
      const full = retryWithBackoff<string>({ maxAttempts: 3, initialDelayMs: 100, jitter: 'full', random: () => 0.25 });
      expectObservable(flaky(2, []).pipe(full)).toBe('75ms (a|)', { a: 'ok' }); // 25 + 50
      const equal = retryWithBackoff<string>({ maxAttempts: 3, initialDelayMs: 100, jitter: 'equal', random: () => 0.5 });
      expectObservable(flaky(2, []).pipe(equal)).toBe('225ms (a|)', { a: 'ok' }); // 75 + 150
    }));

  it('rejects out-of-range settings at creation', () => {
    expect(() => retryWithBackoff({ maxAttempts: 0 })).toThrow(InvalidConfigError);
    expect(() => retryWithBackoff({ maxAttempts: 1.5 })).toThrow(/maxAttempts/);
    expect(() => retryWithBackoff({ initialDelayMs: -1 })).toThrow(/initialDelayMs/);
    expect(() => retryWithBackoff({ initialDelayMs: 50, maxDelayMs: 10 })).toThrow(/maxDelayMs/);
    expect(() => retryWithBackoff({ multiplier: 0.5 })).toThrow(/multiplier/);
    expect(() => retryWithBackoff({ jitter: 'some' as 'full' })).toThrow(/jitter/);
  });

  describe('settling', () => {
    it('subscribes every try in the scope of the input the first try was for', () =>
      testScheduler().run(({ flush }) => {
        const input = new Settlement('S:1', true, () => undefined);
        const scopes: Array<Settlement | undefined> = [];
        const tries: number[] = [];
        const source = defer(() => {
          scopes.push(currentSettlement());
          return flaky(2, tries);
        });
        withSettlement(input, () => source.pipe(retryWithBackoff({ maxAttempts: 3, initialDelayMs: 5, jitter: 'none' })).subscribe());
        flush();
        expect(tries).toEqual([0, 5, 15]);
        expect(scopes).toEqual([input, input, input]);
      }));

    it('inside settleMap, keeps the input held across every try and delay; the last failure fails it', () =>
      testScheduler().run(({ cold, expectObservable, flush }) => {
        const log = new SettleLog(() => asyncScheduler.now());
        const failures: Record<string, number> = { a: 2, b: 9 };
        const tries: Record<string, number[]> = { a: [], b: [] };
        const out = cold('a-b|').pipe(
          log.inputs(),
          settleMap({
            name: 'erp',
            concurrency: 2,
            project: (k: string) => flaky(failures[k]!, tries[k]!).pipe(retryWithBackoff({ maxAttempts: 3, initialDelayMs: 5, jitter: 'none' })),
          }),
        );
        expectObservable(out).toBe('15ms a-|', { a: 'ok' });
        flush();
        // a: tries at 0, 5, 15, succeeding at 15; b: tries at 2, 7, 17, all failing
        expect(log.summary()).toEqual({ a: 'acked@15', b: 'failed@17' });
        expect(log.get('b')!.error).toBe('transient');
      }));

    it('lets describe follow a path through it', () => {
      const topology = defineTopology('retry', (t) => t.stream('IN', 'in').pipe(retryWithBackoff(), t.sink('out', { durable: true })));
      expect(describeTopology(topology).paths.map((p) => p.guarantee)).toEqual(['exactly-once']);
    });
  });

  describe('checklist', () => {
    it('never emits for a never-ending silent source', () =>
      testScheduler().run(({ expectObservable }) => expectObservable(NEVER.pipe(retryWithBackoff())).toBe('-')));

    it('completes for an empty source', () => testScheduler().run(({ expectObservable }) => expectObservable(EMPTY.pipe(retryWithBackoff())).toBe('|')));

    it('passes values of a healthy source through', () =>
      testScheduler().run(({ cold, expectObservable }) => expectObservable(cold('-a-b|').pipe(retryWithBackoff())).toBe('-a-b|')));

    it('cancels the pending retry when unsubscribed during the backoff', () =>
      testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('-#');
        expectObservable(source.pipe(retryWithBackoff({ initialDelayMs: 10, jitter: 'none' })), '^-----!').toBe('-');
        expectSubscriptions(source.subscriptions).toBe(['^!']);
      }));

    it('stops a synchronous source when unsubscribed', () => {
      const { source: endless, produced } = endlessSource<number>((i) => i);
      const seen: number[] = [];
      endless.pipe(retryWithBackoff(), take(3)).subscribe((v) => seen.push(v));
      expect(seen).toEqual([0, 1, 2]);
      expect(produced()).toBe(3);
    });
  });

  describe('properties', () => {
    const policyArb = fc.record({
      maxAttempts: fc.integer({ min: 1, max: 8 }),
      initialDelayMs: fc.integer({ min: 0, max: 1_000 }),
      extraMaxMs: fc.integer({ min: 0, max: 20_000 }),
      multiplier: fc.double({ min: 1, max: 4, noNaN: true }),
      jitter: fc.constantFrom('none' as const, 'full' as const, 'equal' as const),
    });
    const runs = { numRuns: Number(process.env.PROP_RUNS ?? 100) };

    it('never tries more than maxAttempts times, and each delay stays within its bounds', () => {
      fc.assert(
        fc.property(
          policyArb,
          fc.nat(12),
          fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 16 }),
          (p, failures, randoms) => {
            const policy: BackoffPolicy = { ...p, maxDelayMs: p.initialDelayMs + p.extraMaxMs };
            let r = 0;
            const random = () => randoms[r++ % randoms.length]!;
            const tries: number[] = [];
            let result: string | undefined;
            testScheduler().run(({ flush }) => {
              flaky(failures, tries)
                .pipe(retryWithBackoff({ ...policy, random }))
                .subscribe({ next: (v) => (result = v), error: () => (result = 'gave up') });
              flush();
            });
            expect(tries.length).toBe(Math.min(failures + 1, policy.maxAttempts));
            expect(result).toBe(failures < policy.maxAttempts ? 'ok' : 'gave up');
            for (let i = 1; i < tries.length; i++) {
              const d = Math.min(policy.maxDelayMs, policy.initialDelayMs * Math.pow(policy.multiplier, i - 1));
              const waited = tries[i]! - tries[i - 1]!;
              const lo = policy.jitter === 'none' ? d : policy.jitter === 'equal' ? d / 2 : 0;
              // Virtual time advances in whole frames, so allow one frame of rounding.
              expect(waited).toBeGreaterThanOrEqual(Math.floor(lo) - 1);
              expect(waited).toBeLessThanOrEqual(Math.min(Math.ceil(d), policy.maxDelayMs) + 1);
            }
          },
        ),
        runs,
      );
    });

    it('backoffDelayMs is always within [0, maxDelayMs] and within its jitter band', () => {
      fc.assert(
        fc.property(policyArb, fc.integer({ min: 1, max: 60 }), fc.double({ min: -1, max: 2, noNaN: true }), (p, retry, rnd) => {
          const policy: BackoffPolicy = { ...p, maxDelayMs: p.initialDelayMs + p.extraMaxMs };
          const d = Math.min(policy.maxDelayMs, policy.initialDelayMs * Math.pow(policy.multiplier, retry - 1));
          const delay = backoffDelayMs(retry, policy, () => rnd);
          expect(delay).toBeGreaterThanOrEqual(policy.jitter === 'equal' ? d / 2 : policy.jitter === 'none' ? d : 0);
          expect(delay).toBeLessThanOrEqual(d);
          expect(delay).toBeLessThanOrEqual(policy.maxDelayMs);
        }),
        runs,
      );
    });
  });
});
