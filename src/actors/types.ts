import type { BackoffPolicy, RetryPolicy } from '../retry/retry-policy.js';
import type { Logger } from '../logger.js';
import type { SchedulerLike } from 'rxjs';
import type { Codec } from '../codec/codec.js';
import type { Envelope } from '../envelope/envelope.js';

/**
 * The contract of keyed actors. An actor is the state and behaviour of one key (a SKU, a
 * customer): messages of one key are handled one at a time in stream order, different keys
 * concurrently. State lives in LMDB through the exactly-once engine; the processor keeps a
 * bounded cache of recently used keys (passivation).
 */

/** A message from the input stream (or sent to the actor on its `.tell` subject). */
export interface ActorInput<M> extends Envelope<M> {
  readonly kind: 'message';
}

/** A durable timer set with `ctx.setTimer` has fired; `data` is the payload given then. */
export interface TimerFired<P = unknown> extends Envelope<P> {
  readonly kind: 'timer';
  readonly timerId: string;
  /** When the timer was due, epoch ms. */
  readonly dueAt: number;
}

/** What a behaviour receives: an input message or one of its timers firing. */
export type ActorMessage<M, P = unknown> = ActorInput<M> | TimerFired<P>;

/** When a timer fires: `afterMs` from now (the processor's clock), or at an absolute epoch ms. */
export type TimerWhen = { readonly afterMs: number } | { readonly atMs: number };

/** Options for `ctx.ask`. */
export interface AskOptions {
  /** How long to wait for the answer, ms. */
  timeoutMs: number;
  headers?: Readonly<Record<string, string>> | undefined;
}

/**
 * What a behaviour can do besides returning its new state. Effects (`emit`, `reply`, timers,
 * `clearState`) are buffered and only take effect when the behaviour returns: a throw discards
 * them, so a retried message never emits twice.
 */
export interface ActorContext {
  /** The key this actor instance is for. */
  readonly key: string;
  /** The actor's name. */
  readonly actor: string;
  /** 1 on the first attempt at this message, 2 on the first retry, ... */
  readonly attempt: number;
  /**
   * Publishes `value` (encoded with the actor's codec) to a JetStream subject, exactly once: it
   * is committed with the state change and published with a deterministic message id. A stream
   * must capture `subject`.
   */
  emit(subject: string, value: unknown, headers?: Readonly<Record<string, string>>): void;
  /**
   * Answers the request that caused this message (one sent with `askActor`, which carries a
   * `Sluice-Reply-To` header). At-most-once: sent on core NATS after the batch commits, so a
   * crash in between loses it and the asker times out. Does nothing when the message was not a
   * request.
   */
  reply(value: unknown, headers?: Readonly<Record<string, string>>): void;
  /**
   * Request/reply to another service, decoded by the answer's `Content-Type`. NOT exactly-once:
   * when a batch is replayed after a crash the request is sent again, so the service must be
   * idempotent or read-only.
   *
   * @throws RequestTimeoutError, NoRespondersError (supervision then decides)
   */
  ask<R = unknown>(subject: string, value: unknown, options: AskOptions): Promise<R>;
  /**
   * Sets (or replaces) the durable timer `timerId` of this key. It is stored in LMDB with the
   * state and survives restarts; when due it is delivered to the behaviour once as a message of
   * kind `'timer'` carrying `payload`.
   *
   * @throws TerminalError for an empty `timerId` or one past `MAX_TIMER_ID_BYTES` (256 UTF-8 bytes):
   * the message is dead-lettered, the key carries on.
   */
  setTimer(timerId: string, when: TimerWhen, payload?: unknown): void;
  /** Cancels the timer `timerId` of this key; a firing already on its way is ignored. @throws TerminalError as setTimer does. */
  cancelTimer(timerId: string): void;
  /** Deletes this key's state after this message (the returned state is ignored). */
  clearState(): void;
  /** The processor's clock (its RxJS scheduler), epoch ms. Not replay-stable. */
  now(): number;
  /** The topology's logger, with `actor` and `key` on every line. */
  readonly logger: Logger;
}

/** A behaviour: the new state for `state` after `msg`, sync or async. */
export type ActorBehaviour<S, M, P = unknown> = (state: S, msg: ActorMessage<M, P>, ctx: ActorContext) => S | Promise<S>;

/**
 * What a throwing behaviour does. `TerminalError`s skip retries in every mode.
 * - `retry`: try again up to `maxAttempts` in all, waiting `backoffDelayMs` of the
 *   {@link RetryPolicy} (`initialDelayMs * multiplier^(retry-1)` capped at `maxDelayMs`, then
 *   `jitter`) between attempts, while the rest of the batch waits; then `onExhausted`.
 * - `resume` (`skip` is its older name): dead-letter the message, keep the old state, go on —
 *   the same word as a pipeline's and an operator's `SupervisionMode`.
 * - `stop-key`: dead-letter the message and stop the key: its later messages go to the dead
 *   letters until a reset (`resetActorKey`). Other keys go on.
 */
export type Supervision = 'resume' | 'skip' | 'stop-key' | 'retry' | RetrySupervision;

/**
 * `{ mode: 'retry' }` with its {@link RetryPolicy}. Defaults: 3 attempts, 100 ms doubling up to
 * 5000 ms, no jitter (an actor's retries wait in its own batch, so there is no crowd to spread).
 */
export interface RetrySupervision extends RetryPolicy {
  readonly mode: 'retry';
  /** After the last attempt fails. Default 'skip'. */
  readonly onExhausted?: 'skip' | 'stop-key' | undefined;
}

/** Configuration of {@link actor}. */
export interface ActorConfig<S, M, P = unknown> {
  /**
   * Stable name: part of the LMDB namespaces (`actor.<name>`), the actor's subjects and the
   * dead-letter subject. Renaming it orphans the state. Letters, digits, `-` and `_`.
   */
  name: string;
  /**
   * The key of an input message. Not called for `.tell`/timer messages (the key is in the subject).
   * A key past `MAX_ACTOR_KEY_BYTES` (1024 UTF-8 bytes) sends the message to the dead letters as a
   * `KeyTooLongError`; the actor carries on.
   */
  key: (msg: Envelope<M>) => string;
  /** The state of a key that has none yet. */
  initial: (key: string) => S;
  handle: ActorBehaviour<S, M, P>;
  /** Default `{ mode: 'retry', maxAttempts: 3, initialDelayMs: 100 }`, then skip. */
  supervision?: Supervision | undefined;
  /** Evict a key from memory after this long unused, ms. Default 300000 (5 minutes). */
  passivateAfterMs?: number | undefined;
  /** At most this many keys' states in memory (least recently used evicted). Default 10000. */
  maxKeysInMemory?: number | undefined;
  /** Decodes inputs without a `Content-Type`, encodes outputs and replies. Default msgpack. */
  codec?: Codec | undefined;
}

/** A validated actor, ready to run (see `createActorProcessor`, `startActor`). */
export interface ActorDefinition<S, M, P = unknown> {
  readonly name: string;
  readonly key: (msg: Envelope<M>) => string;
  readonly initial: (key: string) => S;
  readonly handle: ActorBehaviour<S, M, P>;
  readonly supervision: ResolvedSupervision;
  readonly passivateAfterMs: number;
  readonly maxKeysInMemory: number;
  readonly codec: Codec;
}

/** {@link Supervision} with defaults filled in. */
export interface ResolvedSupervision extends BackoffPolicy {
  readonly mode: 'retry' | 'skip' | 'stop-key';
  readonly onExhausted: 'skip' | 'stop-key';
}

/** Options shared by the processor and the runner. */
export interface ActorRuntimeOptions {
  /** Topology name: part of subjects and dead-letter subject. */
  topology: string;
  /** Subject prefix for addressing actors. Default `sluice.actor`. */
  prefix?: string | undefined;
  /** Clock and timers (backoff, passivation). Default `asyncScheduler`. */
  scheduler?: SchedulerLike | undefined;
  logger?: Logger | undefined;
  /**
   * Act on `.reset` messages (`resetActorKey`): they change a key's state, so, like dead-letter
   * replay, only a run that allows control acts on them. Default false: a reset is dead-lettered
   * as a `ControlNotAllowedError` (and answered so, when it asks for an answer) and the key stays
   * as it is. `runTopology` passes its `allowControl` (`--allow-control`).
   */
  allowControl?: boolean | undefined;
}

/** A durable timer as stored in LMDB (namespace `actor.<name>.timers`) and scheduled by the timer service. */
export interface StoredTimer {
  readonly key: string;
  readonly timerId: string;
  /**
   * `<stream>:<seq>:<n>` of the message whose handling set it: replay-stable, and the firing's
   * message id. A firing whose instance no longer matches the stored timer is stale and ignored.
   */
  readonly instance: string;
  /** Epoch ms. */
  readonly dueAt: number;
  readonly payload: unknown;
}

/** Told about timers as behaviours set and cancel them (the timer service listens). */
export interface TimerListener {
  set(timer: StoredTimer): void;
  cancel(key: string, timerId: string): void;
}
