import { asyncScheduler, Observable, Subject, Subscription, type OperatorFunction, type SchedulerLike } from 'rxjs';
import type { Envelope } from '../src/envelope/envelope.js';
import { InvalidConfigError } from '../src/errors.js';
import { markStage } from '../src/observe/lineage.js';
import { deadLettered, type DeadLettered } from '../src/dead-letter/dead-letter-record.js';
import { subscribeLinked } from './internal/subscribe-linked.js';
import { requireName } from './internal/validate-config.js';

/** Options for {@link tier}. */
export interface TierConfig<T, RH, RC> {
  /** Names the operator in dead letters (`tier:<name>`). */
  name: string;
  /** True for the envelopes that matter now (the real-time lane); false sends them to the cold lane. */
  hot: (envelope: Envelope<T>) => boolean;
  /** What the hot lane does, e.g. `route(...)` or `check(...)`. Sees each hot envelope synchronously on arrival. */
  hotLane: OperatorFunction<Envelope<T>, RH>;
  /** What the cold lane does, typically `microBatch(...)` then a bulk write. */
  coldLane: OperatorFunction<Envelope<T>, RC>;
  /** Clock for dead-letter timestamps. Default `asyncScheduler`. */
  scheduler?: SchedulerLike | undefined;
}

/**
 * Splits one stream into a real-time lane and a batch lane ("real-time for the 20% of data that
 * matters most") and merges what the lanes emit.
 *
 * Why lanes are operators given to `tier` rather than `tier` returning `{ hot$, cold$ }`: the
 * lanes are subscribed before the source, so a synchronous source loses nothing (with `share()`
 * the first lane to subscribe would drain it), the source is subscribed once, the predicate runs
 * once per envelope, and errors, completion and unsubscription go through one pipe.
 *
 * Priority comes from the shapes of the lanes: a hot envelope goes through the hot lane within
 * the same call that delivered it, while the cold lane usually only appends to a batch whose
 * heavy work runs later on a timer, between hot events.
 *
 * - Emits: whatever the lanes emit, as they emit it; plus one `DeadLettered` for an envelope whose
 *   `hot` predicate throws (the stream carries on), in that input's scope.
 * - Holds: nothing itself; the lanes hold what they hold. Each envelope enters its lane within
 *   the call that delivered it, inside its input's scope, so a lane's settle-aware stages (a
 *   `microBatch` holding it until its batch's effects are done, a durable sink awaiting the
 *   publish ack) keep the input unacknowledged through whichever lane it took.
 * - Completes: after the source and both lanes complete (a batching cold lane flushes first).
 *   A lane must not complete before its input does: envelopes sent to it afterwards are lost.
 *   A lane must subscribe to its input when it is subscribed (the lanes are applied once, when
 *   `tier` is, and connected to each subscription then).
 * - Fails: when the source or a lane fails.
 * - Guarantee: passes its input's on; a path through `tier` gets the weaker of its lanes'
 *   guarantees (`describe` follows both lanes, and sees the sinks inside them).
 *
 * ```ts
 * orders$.pipe(
 *   tier({
 *     name: 'orders',
 *     hot: (o) => o.data.priority === 'express' || o.data.total > 1_000,
 *     hotLane: check({ name: 'fraud', request: askFraud, timeoutMs: 250, onTimeout: 'allow', onError: 'allow' }),
 *     coldLane: (cold$) => cold$.pipe(microBatch({ maxCount: 500, maxWaitMs: 5_000 })),
 *   }),
 * );
 * ```
 * @throws InvalidConfigError at creation for a missing predicate or lane.
 */
export function tier<T, RH, RC>(config: TierConfig<T, RH, RC>): OperatorFunction<Envelope<T>, RH | RC | DeadLettered<T>> {
  if (typeof config !== 'object' || config === null) throw new InvalidConfigError('tier', 'config', 'must be an object');
  const name = requireName('tier', 'name', config.name);
  const { hot, hotLane, coldLane } = config;
  for (const [field, value] of [
    ['hot', hot],
    ['hotLane', hotLane],
    ['coldLane', coldLane],
  ] as const) {
    if (typeof value !== 'function') throw new InvalidConfigError('tier', field, `must be a function, got ${typeof value}`);
  }
  const scheduler = config.scheduler ?? asyncScheduler;
  const operator = `tier:${name}`;

  return (source) => {
    // The lanes are applied once, here, to inputs that connect to each subscription's own
    // subjects: `describe` then follows paths through them and sees the sinks inside, which
    // applying them per subscription would wire again every time.
    let connecting: { readonly hot: Subject<Envelope<T>>; readonly cold: Subject<Envelope<T>> } | undefined;
    const laneInput = (lane: 'hot' | 'cold'): Observable<Envelope<T>> =>
      markStage(
        new Observable<Envelope<T>>((subscriber) => {
          if (connecting === undefined) {
            subscriber.error(new InvalidConfigError(operator, `${lane}Lane`, 'must subscribe to its input when it is subscribed, not later'));
            return;
          }
          return connecting[lane].subscribe(subscriber);
        }),
        source,
        { name: `${operator}:${lane}`, effect: 'passes' },
      );
    let built: { readonly hot: Observable<RH>; readonly cold: Observable<RC> } | { readonly failure: unknown };
    try {
      built = { hot: hotLane(laneInput('hot')), cold: coldLane(laneInput('cold')) };
    } catch (failure) {
      built = { failure };
    }
    const lanes = built;

    return markStage(
      new Observable<RH | RC | DeadLettered<T>>((subscriber) => {
        if ('failure' in lanes) {
          subscriber.error(lanes.failure);
          return;
        }
        const subs = new Subscription();
        const hot$ = new Subject<Envelope<T>>();
        const cold$ = new Subject<Envelope<T>>();
        let openLanes = 2;
        const laneObserver = {
          next: (v: RH | RC) => subscriber.next(v),
          error: (err: unknown) => subscriber.error(err),
          complete: () => {
            openLanes -= 1;
            if (openLanes === 0) subscriber.complete();
          },
        };
        const previous = connecting;
        connecting = { hot: hot$, cold: cold$ };
        try {
          subs.add(lanes.hot.subscribe(laneObserver));
          subs.add(lanes.cold.subscribe(laneObserver));
        } catch (err) {
          subs.unsubscribe();
          subscriber.error(err);
          return;
        } finally {
          connecting = previous;
        }
        subscriber.add(subs);
        subscribeLinked(source, subscriber, {
          next: (env) => {
            let isHot: boolean;
            try {
              isHot = hot(env);
            } catch (err) {
              subscriber.next(deadLettered(env, err, 1, { operator, failedAt: scheduler.now() }));
              return;
            }
            // Within this call, so the lane's first stages run in the input's scope and hold it.
            (isHot ? hot$ : cold$).next(env);
          },
          error: (err: unknown) => subscriber.error(err),
          complete: () => {
            hot$.complete();
            cold$.complete();
          },
        });
      }),
      'failure' in lanes ? source : [lanes.hot, lanes.cold],
      { name: operator, effect: 'passes' },
    );
  };
}
