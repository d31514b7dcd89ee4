import { asyncScheduler, Observable, type ObservableInput, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import type { Envelope } from '../src/envelope/envelope.js';
import { BufferOverflowError, InvalidConfigError } from '../src/errors.js';
import { deadLettered, type DeadLettered } from '../src/dead-letter/dead-letter-record.js';
import { markStage } from '../src/observe/lineage.js';
import { settlingUpstream } from './internal/settling-upstream.js';
import { subscribeLinked } from './internal/subscribe-linked.js';
import { optionalInt, requireInt, requireName } from './internal/validate-config.js';
import { Fifo } from './internal/fifo.js';
import { HeldInputs, type HeldInput } from './internal/held-inputs.js';
import type { PauseControl } from './micro-batch-process.js';
import { requireSupervision, type SupervisionMode } from '../src/settle/supervision.js';

/** Options for {@link keyed}. */
export interface KeyedConfig<T, R> {
  /** Names the operator in errors and dead letters (`keyed:<name>`). */
  name: string;
  /** The key an envelope belongs to (a SKU, an account). A throw dead-letters that envelope. */
  key: (envelope: Envelope<T>) => string;
  /** The work for one envelope. Never runs twice at once for one key. */
  handle: (envelope: Envelope<T>, key: string) => ObservableInput<R>;
  /** Handlers running at once, over all keys. Integer >= 1. */
  maxInFlight: number;
  /** Envelopes waiting per key (not counting the one being handled). One more fails the output. Integer >= 1. */
  mailboxSize: number;
  /** Keys with work (running or waiting) at once. One more fails the output. Default 10000. */
  maxKeys?: number | undefined;
  /** Pause/resume the source when a key's mailbox fills up (see {@link keyed} on backpressure). */
  pauseControl?: PauseControl | undefined;
  /**
   * Mailbox length at which the source is paused; it resumes when no mailbox is that long.
   * Between it and `mailboxSize` is the headroom for what the source delivers after `pause()`.
   * Default `ceil(mailboxSize / 2)`.
   */
  pauseAtCount?: number | undefined;
  /** Clock for dead-letter timestamps. Default `asyncScheduler`. */
  scheduler?: SchedulerLike | undefined;
  /**
   * What a `handle` that throws or errors does to its envelope's input (see `SupervisionMode`):
   * `'resume'` (default) dead-letters it and goes on, `'retry'` redelivers it (dead-lettered after
   * the stream's `maxDeliveries`), `'stop'` ends the run with `TopologyFailedError`.
   */
  supervision?: SupervisionMode | undefined;
}

interface KeyState<T> {
  readonly key: string;
  readonly mailbox: Fifo<{ readonly env: Envelope<T>; readonly held: HeldInput }>;
  running: boolean;
  ready: boolean;
  /** Mailbox at least `pauseAtCount` long. */
  crowded: boolean;
}

/**
 * Per-key serialised async handling: envelopes of one key are handled one at a time in arrival
 * order, different keys run concurrently up to `maxInFlight`. This is the in-memory core of the
 * actor runtime; handlers are never re-entered for a key.
 *
 * - Emits: the handlers' values as they come: in arrival order within a key, interleaved across
 *   keys. Plus one `DeadLettered` for an envelope whose `key` function throws.
 * - Holds: per key with work, a mailbox of at most `mailboxSize` envelopes; at most `maxKeys`
 *   such keys. A key with nothing left to do is forgotten. Keys that are ready wait for a free
 *   handler slot in the order they became ready (no key starves).
 * - Completes: after the source completes and every mailbox is drained.
 * - Settles: each envelope's input stays unacknowledged from arrival, through its wait in the
 *   mailbox, until its handler has completed and every value it emitted has been passed on in
 *   the input's scope with those values' effects downstream complete. `handle` runs in the
 *   input's scope, so a `guardHandler`'s dead-letter sink holds the input until the dead letter
 *   is stored. A `key` that throws emits its `DeadLettered` at once, in the input's scope.
 * - Fails: when a handler fails with a settling input (a JetStream stream), `supervision` decides:
 *   `'resume'` (default) dead-letters that input and the key goes on with its next envelope;
 *   `'retry'` redelivers it after the source's backoff (dead-lettered after its last delivery),
 *   so it is handled after the key's next ones (wrap the handler with `guardHandler` to retry in
 *   place and keep the key's order); `'stop'` ends the run with `TopologyFailedError`. Without a
 *   settling input the output fails (the runtime's supervision then restarts the pipeline). Also fails when a mailbox or `maxKeys` overflows (`BufferOverflowError`) or the
 *   source fails; every input still held then (running or waiting) is failed for redelivery.
 * - Guarantee: passes its input's on (at-least-once from a JetStream stream).
 *
 * Backpressure: an RxJS source pushes, and nothing in RxJS can make it wait, so keyed bounds
 * memory in two ways. (1) Credit: keyed keeps every envelope it holds unacknowledged, so a
 * `t.stream` source with `maxUnsettled: N` never has more than N inside keyed; with
 * `mailboxSize >= N` and `maxKeys >= N` nothing can overflow. (2) `pauseControl`: keyed calls
 * `pause()` when some mailbox reaches `pauseAtCount` and `resume()` when none is that long.
 * Pausing stops the whole source, because the next envelope may be for the full key and one
 * stream cannot be read out of order. Without either, a source that outruns its handlers fails
 * with `BufferOverflowError` rather than grow without bound.
 *
 * ```ts
 * orders$.pipe(
 *   keyed({
 *     name: 'stock', key: (o) => o.data.sku, maxInFlight: 64, mailboxSize: 1_000,
 *     handle: (o, sku) => from(reserve(sku, o.data.quantity)),
 *   }),
 * );
 * ```
 * @throws InvalidConfigError at creation for a bad field; when applied to a durable stream read
 * whose `maxUnsettled` is above `mailboxSize` or `maxKeys`, without `pauseControl`.
 */
export function keyed<T, R>(config: KeyedConfig<T, R>): OperatorFunction<Envelope<T>, R | DeadLettered<T>> {
  const c = 'keyed';
  if (typeof config !== 'object' || config === null) throw new InvalidConfigError(c, 'config', 'must be an object');
  const name = requireName(c, 'name', config.name);
  const { key: keyOf, handle, pauseControl } = config;
  if (typeof keyOf !== 'function') throw new InvalidConfigError(c, 'key', `must be a function, got ${typeof keyOf}`);
  if (typeof handle !== 'function') throw new InvalidConfigError(c, 'handle', `must be a function, got ${typeof handle}`);
  const maxInFlight = requireInt(c, 'maxInFlight', config.maxInFlight, 1);
  const mailboxSize = requireInt(c, 'mailboxSize', config.mailboxSize, 1);
  const maxKeys = requireInt(c, 'maxKeys', config.maxKeys ?? 10_000, 1);
  const pauseAt = optionalInt(c, 'pauseAtCount', config.pauseAtCount, 1) ?? Math.ceil(mailboxSize / 2);
  if (pauseAt > mailboxSize) throw new InvalidConfigError(c, 'pauseAtCount', `must be <= mailboxSize (${mailboxSize}), got ${pauseAt}`);
  if (pauseControl !== undefined && (typeof pauseControl.pause !== 'function' || typeof pauseControl.resume !== 'function')) {
    throw new InvalidConfigError(c, 'pauseControl', 'must have pause() and resume() methods');
  }
  const scheduler = config.scheduler ?? asyncScheduler;
  const operator = `${c}:${name}`;
  const supervision = requireSupervision(c, config.supervision);

  return (source) => {
    requireRoomForCredit(name, mailboxSize, maxKeys, pauseControl, source);
    return markStage(
      new Observable<R | DeadLettered<T>>((subscriber) => {
        const holds = new HeldInputs(`keyed '${name}'`, { mode: supervision, part: `keyed:${name}` });
        const states = new Map<string, KeyState<T>>();
        const ready = new Fifo<KeyState<T>>();
        const running = new Set<Subscription>();
        let inFlight = 0;
        let sourceDone = false;
        let pumping = false;
        // Keys whose mailbox is at least pauseAt long; the source is paused while there are any.
        let crowded = 0;
        let paused = false;

        const setPaused = (want: boolean): void => {
          if (pauseControl === undefined || paused === want) return;
          paused = want;
          if (want) pauseControl.pause();
          else pauseControl.resume();
        };

        const run = (st: KeyState<T>, env: Envelope<T>, held: HeldInput): void => {
          st.running = true;
          inFlight += 1;
          let done = false;
          let sub: Subscription | undefined;
          // eslint-disable-next-line prefer-const -- the callback may run before the assignment
          sub = held.subscribe((): ObservableInput<R> => handle(env, st.key), {
            next(v) {
              held.emit(subscriber, v);
            },
            end() {
              done = true;
              held.done();
              // undefined when the handler completed synchronously, inside subscribe()
              if (sub !== undefined) running.delete(sub);
              inFlight -= 1;
              st.running = false;
              if (st.mailbox.length > 0) markReady(st);
              else states.delete(st.key);
              pump();
            },
            error(err) {
              subscriber.error(err);
            },
          });
          if (!done) running.add(sub);
        };

        const updateCrowding = (st: KeyState<T>): void => {
          const now = st.mailbox.length >= pauseAt;
          if (now === st.crowded) return;
          st.crowded = now;
          crowded += now ? 1 : -1;
          setPaused(crowded > 0);
        };

        const markReady = (st: KeyState<T>): void => {
          if (st.ready || st.running) return;
          st.ready = true;
          ready.push(st);
        };

        // A loop, not recursion: synchronous handlers complete inside `run`, and a long mailbox of
        // them must not grow the stack.
        const pump = (): void => {
          if (pumping) return;
          pumping = true;
          try {
            while (!subscriber.closed && inFlight < maxInFlight && ready.length > 0) {
              const st = ready.shift()!;
              st.ready = false;
              const next = st.mailbox.shift()!;
              updateCrowding(st);
              run(st, next.env, next.held);
            }
          } finally {
            pumping = false;
          }
          if (sourceDone && inFlight === 0 && ready.length === 0 && !subscriber.closed) subscriber.complete();
        };

        const overflow = (detail: string, limit: number): void => {
          const err = new BufferOverflowError(`keyed '${name}'`, limit, detail);
          // The envelope that did not fit was not processed either: deliver it again.
          holds.take().failed(err);
          subscriber.error(err);
        };

        subscriber.add(() => {
          for (const sub of running) sub.unsubscribe();
          running.clear();
          states.clear();
          ready.clear();
          holds.interrupt();
          // Leave a shared source usable by whoever subscribes next.
          setPaused(false);
        });
        subscribeLinked(source, subscriber, {
          next: (env) => {
            let k: string;
            try {
              k = keyOf(env);
            } catch (err) {
              subscriber.next(deadLettered(env, err, 1, { operator, failedAt: scheduler.now() }));
              return;
            }
            let st = states.get(k);
            if (st === undefined) {
              if (states.size >= maxKeys) {
                overflow(`${states.size} keys have work ('maxKeys'); key '${k}' would be one more`, maxKeys);
                return;
              }
              st = { key: k, mailbox: new Fifo(), running: false, ready: false, crowded: false };
              states.set(k, st);
            }
            if (st.mailbox.length >= mailboxSize) {
              overflow(
                `the mailbox of key '${k}' holds ${mailboxSize} envelopes ('mailboxSize'); pause the source (pauseControl) or lower its credit`,
                mailboxSize,
              );
              return;
            }
            st.mailbox.push({ env, held: holds.take() });
            markReady(st);
            pump();
            // After pump, so an envelope that starts at once never counts as waiting.
            updateCrowding(st);
          },
          error: (err: unknown) => subscriber.error(err),
          complete: () => {
            sourceDone = true;
            pump();
          },
        });
      }),
      source,
      { name: operator, effect: 'passes' },
    );
  };
}

/**
 * Credit is what keeps a keyed stage from overflowing: fed by a durable stream read, it holds at
 * most that read's `maxUnsettled` envelopes, all of which may be for one hot key. A mailbox (or a
 * key count) smaller than that fails the pipeline with `BufferOverflowError` under load, and the
 * redelivery that follows overflows again; say so while the topology is built, unless the source
 * can be paused instead.
 */
function requireRoomForCredit(name: string, mailboxSize: number, maxKeys: number, pauseControl: PauseControl | undefined, source: Observable<unknown>): void {
  const tightest = settlingUpstream(source).tightest;
  if (tightest === undefined || pauseControl !== undefined) return;
  for (const [field, value] of [
    ['mailboxSize', mailboxSize],
    ['maxKeys', maxKeys],
  ] as const) {
    if (value < tightest.maxUnsettled)
      throw new InvalidConfigError(
        `keyed '${name}'`,
        field,
        `is ${value}, below the maxUnsettled (${tightest.maxUnsettled}) of stream '${tightest.name}' that feeds it: that many envelopes can arrive for one key (or as many keys) and overflow it. Raise ${field} to at least ${tightest.maxUnsettled}, lower the stream's maxUnsettled, or give pauseControl`,
      );
  }
}
