import { firstValueFrom, timer, type SchedulerLike } from 'rxjs';
import { codecFor } from '../codec/codec-for.js';
import { HEADERS } from '../envelope/envelope.js';
import { TerminalError, TransportError, ensureError } from '../errors.js';
import { validateSubject } from '../transport/subject.js';
import type { Transport } from '../transport/transport.js';
import type { ActorContext, ActorDefinition, ActorLogger, ActorMessage, TimerWhen } from './types.js';

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
  readonly log: ActorLogger;
}

/** Header on a `.tell` message naming the inbox `ctx.reply` answers on. */
export const REPLY_TO_HEADER = 'Sluice-Reply-To';

/**
 * Runs `def.handle` on one message: up to `maxAttempts` times for 'retry' (a `TerminalError` ends
 * the attempts at once), once otherwise. Each attempt gets a fresh effect buffer, so a failed
 * attempt leaves no trace; the caller applies the effects of the successful one.
 */
export async function runBehaviour<S, M, P>(
  env: BehaviourEnv<S, M, P>,
  key: string,
  state: S,
  msg: ActorMessage<M, P>,
): Promise<BehaviourRun<S>> {
  const { def, scheduler } = env;
  const { maxAttempts, backoffMs, maxBackoffMs } = def.supervision;
  let error: Error = new Error('unreachable');
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const effects: Effect[] = [];
    try {
      const ctx = makeContext(env, key, msg, attempt, effects);
      let next = def.handle(state, msg, ctx);
      if (isPromiseLike(next)) next = await next;
      return { ok: true, state: next, effects, attempts: attempt };
    } catch (thrown) {
      error = ensureError(thrown);
      // `name`, not instanceof: a TerminalError subclass from another copy of the package still counts.
      if (error instanceof TerminalError || error.name === 'TerminalError') return { ok: false, error, attempts: attempt };
      if (attempt < maxAttempts) {
        const delay = Math.min(maxBackoffMs, backoffMs * 2 ** (attempt - 1));
        env.log.warn({ actor: def.name, key, attempt, delayMs: delay, err: error.message }, 'actor behaviour failed; retrying');
        if (delay > 0) await firstValueFrom(timer(delay, scheduler));
      }
    }
  }
  return { ok: false, error, attempts: maxAttempts };
}

function makeContext<S, M, P>(
  env: BehaviourEnv<S, M, P>,
  key: string,
  msg: ActorMessage<M, P>,
  attempt: number,
  effects: Effect[],
): ActorContext {
  const { def, scheduler, io } = env;
  const codec = def.codec;
  const contentHeaders = (extra?: Readonly<Record<string, string>>): Record<string, string> => ({
    [HEADERS.contentType]: codec.contentType,
    [HEADERS.key]: key,
    ...extra,
  });
  const base = env.log;
  const log: ActorLogger = {
    debug: (o, m) => base.debug({ actor: def.name, key, ...o }, m),
    info: (o, m) => base.info({ actor: def.name, key, ...o }, m),
    warn: (o, m) => base.warn({ actor: def.name, key, ...o }, m),
    error: (o, m) => base.error({ actor: def.name, key, ...o }, m),
  };
  return {
    key,
    actor: def.name,
    attempt,
    log,
    now: () => scheduler.now(),
    emit(subject, value, headers) {
      validateSubject(subject, { wildcards: false });
      effects.push({ t: 'emit', subject, data: codec.encode(value), headers: contentHeaders(headers) });
    },
    reply(value, headers) {
      const to = msg.headers[REPLY_TO_HEADER];
      if (to === undefined) return;
      effects.push({ t: 'reply', to, data: codec.encode(value), headers: contentHeaders(headers) });
    },
    async ask<R>(subject: string, value: unknown, options: { timeoutMs: number; headers?: Readonly<Record<string, string>> | undefined }) {
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
    },
    setTimer(timerId, when, payload) {
      if (typeof timerId !== 'string' || timerId.length === 0) {
        throw new TerminalError(`setTimer: 'timerId' must be a non-empty string, got ${JSON.stringify(timerId)}`);
      }
      effects.push({ t: 'set-timer', timerId, dueAt: dueAt(when, scheduler.now()), payload });
    },
    cancelTimer(timerId) {
      effects.push({ t: 'cancel-timer', timerId });
    },
    clearState() {
      effects.push({ t: 'clear-state' });
    },
  };
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
