import { backoffDelayMs } from '../retry/retry-policy.js';
import { firstValueFrom, timer, type SchedulerLike } from 'rxjs';
import { codecFor } from '../codec/codec-for.js';
import { HEADERS } from '../envelope/envelope.js';
import { TerminalError, TransportError, ensureError } from '../errors.js';
import { validateSubject } from '../transport/subject.js';
import { keyBytes, keyFits } from '../state/state-key.js';
import type { Transport } from '../transport/transport.js';
import { MAX_TIMER_ID_BYTES } from './actor-limits.js';
import { childLogger, type Logger } from '../logger.js';
import type { ActorContext, ActorDefinition, ActorMessage, AskOptions, TimerWhen } from './types.js';

/** A behaviour's buffered side effect, applied to the transaction only when it returned. */
export type Effect =
  | { readonly t: 'emit'; readonly subject: string; readonly data: Uint8Array; readonly headers: Record<string, string> }
  | { readonly t: 'reply'; readonly to: string; readonly data: Uint8Array; readonly headers: Record<string, string> }
  | { readonly t: 'set-timer'; readonly timerId: string; readonly dueAt: number; readonly payload: unknown }
  | { readonly t: 'cancel-timer'; readonly timerId: string }
  | { readonly t: 'clear-state' };

/** The outcome of running a behaviour on one message under its supervision policy. */
export type BehaviourRun<S> =
  | { readonly ok: true; readonly state: S; readonly effects: readonly Effect[]; readonly attempts: number }
  | { readonly ok: false; readonly error: Error; readonly attempts: number };

/** What {@link runBehaviour} needs besides the message. */
export interface BehaviourEnv<S, M, P> {
  readonly def: ActorDefinition<S, M, P>;
  readonly scheduler: SchedulerLike;
  readonly io: Pick<Transport, 'request'> | undefined;
  readonly logger: Logger;
}

/** Header on a `.tell` message naming the inbox `ctx.reply` answers on. */
export const REPLY_TO_HEADER = 'Sluice-Reply-To';

/**
 * Runs `def.handle` on one message: up to `maxAttempts` times for 'retry' (a `TerminalError` ends
 * the attempts at once), once otherwise. Each attempt gets a fresh effect buffer, so a failed
 * attempt leaves no trace; the caller applies the effects of the successful one.
 *
 * A behaviour that returns synchronously and does not fail is run without a Promise: most are,
 * and a Promise per message costs more than the behaviour itself.
 */
export function runBehaviour<S, M, P>(env: BehaviourEnv<S, M, P>, key: string, state: S, msg: ActorMessage<M, P>): BehaviourRun<S> | Promise<BehaviourRun<S>> {
  const effects: Effect[] = [];
  try {
    const next = env.def.handle(state, msg, new Context(env, key, msg, 1, effects));
    if (!isPromiseLike(next)) return { ok: true, state: next, effects, attempts: 1 };
    return Promise.resolve(next).then(
      (value): BehaviourRun<S> => ({ ok: true, state: value, effects, attempts: 1 }),
      (thrown: unknown) => retry(env, key, state, msg, thrown),
    );
  } catch (thrown) {
    return retry(env, key, state, msg, thrown);
  }
}

/** After attempt 1 failed with `thrown`: the remaining attempts, with backoff. */
async function retry<S, M, P>(env: BehaviourEnv<S, M, P>, key: string, state: S, msg: ActorMessage<M, P>, thrown: unknown): Promise<BehaviourRun<S>> {
  const { def, scheduler } = env;
  const { maxAttempts } = def.supervision;
  let error = ensureError(thrown);
  for (let attempt = 1; ; attempt++) {
    // `name`, not only instanceof: a TerminalError from another copy of the package still counts.
    if (error instanceof TerminalError || error.name === 'TerminalError' || attempt >= maxAttempts) return { ok: false, error, attempts: attempt };
    const delay = backoffDelayMs(attempt, def.supervision);
    env.logger.warn({ actor: def.name, key, attempt, delayMs: delay, err: error.message }, 'actor behaviour failed; retrying');
    if (delay > 0) await firstValueFrom(timer(delay, scheduler));
    const effects: Effect[] = [];
    try {
      let next = def.handle(state, msg, new Context(env, key, msg, attempt + 1, effects));
      if (isPromiseLike(next)) next = await next;
      return { ok: true, state: next, effects, attempts: attempt + 1 };
    } catch (err) {
      error = ensureError(err);
    }
  }
}

/** One attempt's `ctx`: a class, so a message costs one small object rather than a dozen closures. */
class Context<S, M, P> implements ActorContext {
  private keyLogger: Logger | undefined;

  constructor(
    private readonly env: BehaviourEnv<S, M, P>,
    readonly key: string,
    private readonly msg: ActorMessage<M, P>,
    readonly attempt: number,
    private readonly effects: Effect[],
  ) {}

  get actor(): string {
    return this.env.def.name;
  }

  get logger(): Logger {
    this.keyLogger ??= childLogger(this.env.logger, { actor: this.env.def.name, key: this.key });
    return this.keyLogger;
  }

  now(): number {
    return this.env.scheduler.now();
  }

  emit(subject: string, value: unknown, headers?: Readonly<Record<string, string>>): void {
    validateSubject(subject, { wildcards: false });
    this.effects.push({ t: 'emit', subject, data: this.env.def.codec.encode(value), headers: this.headers(headers) });
  }

  reply(value: unknown, headers?: Readonly<Record<string, string>>): void {
    const to = this.msg.headers[REPLY_TO_HEADER];
    if (to === undefined) return;
    this.effects.push({ t: 'reply', to, data: this.env.def.codec.encode(value), headers: this.headers(headers) });
  }

  async ask<R>(subject: string, value: unknown, options: AskOptions): Promise<R> {
    const { def, io } = this.env;
    const codec = def.codec;
    if (io === undefined) throw new TransportError('actor', 'ask', `actor '${def.name}' was started without a transport for requests`);
    const answer = await io.request(subject, codec.encode(value), {
      timeoutMs: options.timeoutMs,
      headers: { [HEADERS.contentType]: codec.contentType, ...options.headers },
    });
    const answerCodec = codecFor(answer.headers[HEADERS.contentType], codec);
    if (answerCodec === undefined) {
      throw new TerminalError(`ask '${subject}': unsupported content type '${answer.headers[HEADERS.contentType]}'`);
    }
    return answerCodec.decode(answer.data) as R;
  }

  setTimer(timerId: string, when: TimerWhen, payload?: unknown): void {
    checkTimerId('setTimer', timerId);
    this.effects.push({ t: 'set-timer', timerId, dueAt: dueAt(when, this.env.scheduler.now()), payload });
  }

  cancelTimer(timerId: string): void {
    checkTimerId('cancelTimer', timerId);
    this.effects.push({ t: 'cancel-timer', timerId });
  }

  clearState(): void {
    this.effects.push({ t: 'clear-state' });
  }

  private headers(extra: Readonly<Record<string, string>> | undefined): Record<string, string> {
    const h: Record<string, string> = { [HEADERS.contentType]: this.env.def.codec.contentType, [HEADERS.key]: this.key };
    return extra === undefined ? h : { ...h, ...extra };
  }
}

/** A timer id is part of an LMDB key: one built from input (an order id) can be too long. */
function checkTimerId(method: string, timerId: string): void {
  if (typeof timerId !== 'string' || timerId.length === 0) {
    throw new TerminalError(`${method}: 'timerId' must be a non-empty string, got ${JSON.stringify(timerId)}`);
  }
  if (!keyFits(timerId, MAX_TIMER_ID_BYTES)) {
    throw new TerminalError(`${method}: 'timerId' is ${keyBytes(timerId)} bytes, longer than the ${MAX_TIMER_ID_BYTES} bytes a timer id may be`);
  }
}

function dueAt(when: TimerWhen, now: number): number {
  const at = 'afterMs' in when ? now + when.afterMs : when.atMs;
  if (!Number.isFinite(at)) throw new TerminalError(`setTimer: due time must be finite, got ${JSON.stringify(when)}`);
  if ('afterMs' in when && when.afterMs < 0) throw new TerminalError(`setTimer: 'afterMs' must be >= 0, got ${when.afterMs}`);
  return at;
}

function isPromiseLike<T>(v: T | PromiseLike<T>): v is PromiseLike<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}
