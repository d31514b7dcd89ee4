import { asyncScheduler, bufferCount, defer, from, map, Observable, switchMap, take, throwError, timer, toArray, type OperatorFunction } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Envelope } from '../../src/envelope/envelope.js';
import { InvalidConfigError } from '../../src/errors.js';
import { isDeadLettered } from '../../src/dead-letter/dead-letter-record.js';
import { defineTopology } from '../../src/runtime/define-topology.js';
import { describeTopology } from '../../src/runtime/describe-topology.js';
import { markStage } from '../../src/observe/lineage.js';
import { holdCurrent, withSettlement } from '../../src/settle/settle-scope.js';
import { Settlement } from '../../src/settle/settlement.js';
import { tier, type TierConfig } from '../../operators/tier.js';
import { SettleLog, slowSink } from '../helpers/settle-log.js';
import { env, testScheduler, endlessSource, itKeepsTheSourceContract } from './realtime-fixtures.js';

type Order = { total: number } | null;
const e = (total: number | null, id: string): Envelope<Order> => env('orders', total === null ? null : { total }, id);
const values = { a: e(5_000, 'a'), b: e(10, 'b'), c: e(20, 'c'), d: e(9_000, 'd'), n: e(null, 'n') };

const lanes: TierConfig<Order, string, string> = {
  name: 'orders',
  hot: (o) => o.data!.total > 1_000,
  hotLane: map((o) => `hot:${o.id}`),
  coldLane: (cold$) =>
    cold$.pipe(
      bufferCount(2),
      map((batch) => `cold:${batch.map((o) => o.id).join('')}`),
    ),
};
const show = (v: unknown): string => (isDeadLettered(v) ? `dlq:${v.envelope.id}` : String(v));

describe('tier', () => {
  it('sends hot envelopes through the hot lane at once and the rest through the cold lane', () =>
    testScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('-a-b-c-d-|', values).pipe(tier(lanes), map(show))).toBe('-a---c-d-|', { a: 'hot:a', c: 'cold:bc', d: 'hot:d' });
    }));

  it('lets a batching cold lane flush its remainder before completing', () =>
    testScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('-b-a-|', values).pipe(tier(lanes), map(show))).toBe('---a-(b|)', { a: 'hot:a', b: 'cold:b' });
    }));

  it('loses nothing from a synchronous source and subscribes to it once', () => {
    let subscriptions = 0;
    const source = defer(() => {
      subscriptions += 1;
      return from([values.a, values.b, values.c, values.d]);
    });
    const seen: string[] = [];
    source.pipe(tier(lanes)).subscribe((v) => seen.push(show(v)));
    expect(seen).toEqual(['hot:a', 'cold:bc', 'hot:d']);
    expect(subscriptions).toBe(1);
  });

  it('dead-letters an envelope whose predicate throws and carries on', () =>
    testScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('-n-a-|', values).pipe(tier(lanes), map(show))).toBe('-n-a-|', { n: 'dlq:n', a: 'hot:a' });
    }));

  it('fails when a lane fails', () =>
    testScheduler().run(({ cold, expectObservable }) => {
      const failing = tier<Order, string, string>({ ...lanes, coldLane: () => throwError(() => 'lane down') });
      expectObservable(cold('-a-|', values).pipe(failing)).toBe('#', undefined, 'lane down');
      const throwing = tier<Order, string, string>({
        ...lanes,
        hotLane: () => {
          throw new Error('bad lane');
        },
      });
      expectObservable(cold('-a-|', values).pipe(throwing)).toBe('#', undefined, new Error('bad lane'));
    }));

  it('fails when a lane subscribes to its input later than when it is subscribed', () =>
    testScheduler().run(({ cold, expectObservable }) => {
      const late = tier<Order, string, string>({
        ...lanes,
        coldLane: (cold$) =>
          timer(5).pipe(
            switchMap(() => cold$),
            map(String),
          ),
      });
      expectObservable(cold('-a-|', values).pipe(late, map(show))).toBe(
        '-a---#',
        { a: 'hot:a' },
        expect.objectContaining({ name: 'InvalidConfigError', message: expect.stringMatching(/coldLane/) }),
      );
    }));

  it('rejects bad configuration at creation', () => {
    expect(() => tier({ ...lanes, hot: undefined as never })).toThrow(InvalidConfigError);
    expect(() => tier({ ...lanes, coldLane: 'batch' as never })).toThrow(/coldLane/);
    expect(() => tier({ ...lanes, name: '' })).toThrow(/name/);
  });

  describe('settling', () => {
    /**
     * A cold lane that batches the way Sluice's settle-aware batches do (see `src/settle`): holds
     * each input, and emits every `size` of them as one group, in the group's scope.
     */
    const settlingBatch =
      <V>(size: number): OperatorFunction<V, V[]> =>
      (source) =>
        markStage(
          new Observable<V[]>((subscriber) => {
            let batch: V[] = [];
            let held: Settlement[] = [];
            const cut = (): void => {
              const [values, members] = [batch, held];
              [batch, held] = [[], []];
              if (values.length === 0) return;
              const group = Settlement.join(members);
              for (const m of members) m.release();
              withSettlement(group, () => subscriber.next(values));
              group.release();
            };
            return source.subscribe({
              next: (v) => {
                const h = holdCurrent();
                if (h !== undefined) held.push(h);
                batch.push(v);
                if (batch.length === size) cut();
              },
              error: (err: unknown) => subscriber.error(err),
              complete: () => {
                cut();
                subscriber.complete();
              },
            });
          }),
          source,
          { name: 'settlingBatch', effect: 'groups' },
        );

    it("keeps each input held through whichever lane it took until that lane's effects are complete", () =>
      testScheduler().run(({ cold, expectObservable, flush }) => {
        const log = new SettleLog(() => asyncScheduler.now());
        // Hot: a durable sink acking 2 frames later. Cold: batches of 2, then a bulk write taking 3.
        const lanes2: TierConfig<Order, string, string> = {
          ...lanes,
          hotLane: (hot$) =>
            hot$.pipe(
              slowSink(() => cold('--|')),
              map((o) => `hot:${o.id}`),
            ),
          coldLane: (cold$) =>
            cold$.pipe(
              settlingBatch(2),
              slowSink(() => cold('---|')),
              map((b) => `cold:${b.map((o) => o.id).join('')}`),
            ),
        };
        expectObservable(
          cold('-a-b-c-d-|', values).pipe(
            log.inputs((o: Envelope<Order>) => o.id),
            tier(lanes2),
          ),
        ).toBe('---a----c(d|)', {
          a: 'hot:a',
          c: 'cold:bc',
          d: 'hot:d',
        });
        flush();
        // b waited in the batch from 3 until it was cut at 5 and written at 8.
        expect(log.summary()).toEqual({ a: 'acked@3', b: 'acked@8', c: 'acked@8', d: 'acked@9' });
      }));

    it("fails every input of a cold batch whose write failed, and holds a dead letter's input like any other", () =>
      testScheduler().run(({ cold, expectObservable, flush }) => {
        const log = new SettleLog(() => asyncScheduler.now());
        const failing: TierConfig<Order, string, string> = {
          ...lanes,
          coldLane: (cold$) =>
            cold$.pipe(
              settlingBatch(2),
              slowSink(() => cold('-#', undefined, new Error('bulk write failed'))),
              map(() => 'cold'),
            ),
        };
        const out = cold('-n-b-c-|', values).pipe(
          log.inputs((o: Envelope<Order>) => o.id),
          tier(failing),
          slowSink(() => cold('----|')),
          map(show),
        );
        expectObservable(out).toBe('-----n-|', { n: 'dlq:n' });
        flush();
        expect(log.summary()).toEqual({ n: 'acked@5', b: 'failed@6', c: 'failed@6' });
      }));

    it('lets describe follow paths through both lanes and see the sinks inside them', () => {
      const topology = defineTopology('tiered', (t) =>
        t.stream<Order>('ORDERS', 'orders').pipe(
          tier({
            ...lanes,
            hotLane: (hot$) => hot$.pipe(t.sink('orders.now', { durable: true })),
            coldLane: (cold$) => cold$.pipe(settlingBatch(100)),
          }),
          t.sink('orders.out', { durable: true }),
        ),
      );
      const d = describeTopology(topology);
      expect(d.paths).toEqual([
        {
          from: 'ORDERS (orders)',
          to: 'orders.now',
          guarantee: 'exactly-once',
          because: 'output ids derive from input positions; re-publishes fall in the duplicate window',
        },
        // The weaker lane decides for what comes out of tier: the cold lane's groups are not recorded.
        {
          from: 'ORDERS (orders)',
          to: 'orders.out',
          guarantee: 'at-least-once',
          because: 'settlingBatch groups are not recorded, so a replay may regroup under new ids',
        },
      ]);
    });
  });

  describe('checklist', () => {
    itKeepsTheSourceContract(() => tier(lanes));

    it('unsubscribes from the source and the lanes when unsubscribed early', () =>
      testScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
        const source = hot('-a-b-d-', values);
        expectObservable(source.pipe(tier(lanes), map(show)), '^----!').toBe('-a---', { a: 'hot:a' });
        expectSubscriptions(source.subscriptions).toBe('^----!');
      }));

    it('stops a synchronous source when unsubscribed', () => {
      const { source: endless, produced } = endlessSource<Envelope<Order>>((i) => e(5_000, String(i)));
      const seen: string[] = [];
      endless.pipe(tier(lanes), take(3)).subscribe((v) => seen.push(show(v)));
      expect(seen).toEqual(['hot:0', 'hot:1', 'hot:2']);
      expect(produced()).toBe(3);
    });

    it('collects everything with toArray once both lanes complete', async () => {
      const all = await new Promise<string[]>((resolve) => from([values.a, values.b]).pipe(tier(lanes), map(show), toArray()).subscribe(resolve));
      expect(all).toEqual(['hot:a', 'cold:b']);
    });
  });
});
