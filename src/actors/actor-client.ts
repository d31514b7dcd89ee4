import { firstValueFrom, Subject, take, takeUntil, timeout } from 'rxjs';
import type { Codec } from '../codec/codec.js';
import { codecFor } from '../codec/codec-for.js';
import { msgpackCodec } from '../codec/msgpack-codec.js';
import { HEADERS, type Envelope } from '../envelope/envelope.js';
import { ControlNotAllowedError, RequestTimeoutError, TransportError } from '../errors.js';
import { newInbox } from '../transport/new-inbox.js';
import type { PubAck, Transport } from '../transport/transport.js';
import { actorSubjects, type ActorAddress } from './actor-subjects.js';
import { REPLY_TO_HEADER } from './run-behaviour.js';
import { ACTOR_QUERY_HEADERS } from './actor-query-headers.js';
import type { ActorStatus } from './serve-actor-queries.js';

/**
 * Helpers for other services (in TypeScript) to talk to an actor. Services in other languages do
 * the same with their NATS client: the subjects and headers are in docs/actors.md.
 */

/** Options of {@link tellActor}. */
export interface TellOptions {
  /** `Nats-Msg-Id`: a re-send with the same id inside the stream's duplicate window is dropped. */
  msgId?: string | undefined;
  headers?: Readonly<Record<string, string>> | undefined;
  /** Default msgpack. */
  codec?: Codec | undefined;
}

/**
 * Sends `value` to the actor of `key` through its input stream
 * (`<prefix>.<topology>.<actor>.<key>.tell`): ordered with the key's other input and handled
 * exactly once. Resolves with the stream's ack.
 */
export function tellActor(
  transport: Pick<Transport, 'publishDurable'>,
  address: ActorAddress,
  key: string,
  value: unknown,
  options: TellOptions = {},
): Promise<PubAck> {
  const codec = options.codec ?? msgpackCodec;
  return transport.publishDurable(actorSubjects(address).tell(key), codec.encode(value), {
    msgId: options.msgId,
    headers: { [HEADERS.contentType]: codec.contentType, ...options.headers },
  });
}

/** Options of {@link askActor}. */
export interface AskActorOptions extends TellOptions {
  /** How long to wait for `ctx.reply`, ms. */
  timeoutMs: number;
}

/**
 * Tells the actor `value` with a `Sluice-Reply-To` inbox and waits for its `ctx.reply`. The
 * message itself is handled exactly once; the reply is at-most-once (a crash after the commit
 * loses it), so on a timeout the message may well have been handled: ask the state, or tell
 * again with the same `msgId` only if handling twice is harmless.
 *
 * @throws RequestTimeoutError when no reply comes within `timeoutMs`.
 */
export async function askActor<R = unknown>(
  transport: Pick<Transport, 'publishDurable' | 'subscribe'>,
  address: ActorAddress,
  key: string,
  value: unknown,
  options: AskActorOptions,
): Promise<R> {
  const subject = actorSubjects(address).tell(key);
  const reply = replyInbox(transport, subject, options.timeoutMs);
  try {
    await tellActor(transport, address, key, value, { ...options, headers: { ...options.headers, [REPLY_TO_HEADER]: reply.inbox } });
  } catch (err) {
    reply.cancel();
    throw err;
  }
  return decodeAnswer<R>(await reply.answer, subject);
}

/**
 * An inbox subscribed before the message asking for an answer goes out (so the answer cannot come
 * before it), and the answer, bounded by `timeoutMs`. `cancel` ends it when the message could not
 * be sent: the subscription goes, and the answer, awaited by nobody then, rejects unheard.
 */
function replyInbox(
  transport: Pick<Transport, 'subscribe'>,
  subject: string,
  timeoutMs: number,
): { readonly inbox: string; readonly answer: Promise<Envelope<Uint8Array>>; cancel(): void } {
  const inbox = newInbox();
  const cancelled = new Subject<void>();
  const answer = firstValueFrom(
    transport
      .subscribe(inbox)
      .pipe(takeUntil(cancelled), take(1), timeout({ first: timeoutMs, with: () => Promise.reject(new RequestTimeoutError(subject, timeoutMs)) })),
  );
  answer.catch(() => undefined);
  return { inbox, answer, cancel: () => cancelled.next() };
}

/** The answer to {@link queryActorState}. */
export interface ActorStateAnswer<S> {
  /** The committed state, or `initial(key)` when `found` is false. */
  readonly state: S;
  readonly found: boolean;
  readonly stopped: boolean;
}

/**
 * Asks the running actor for the committed state of `key` (core request/reply on
 * `<prefix>.<topology>.<actor>.<key>`).
 *
 * @throws RequestTimeoutError, NoRespondersError (no instance running), TransportError (the
 * actor answered with an error).
 */
export async function queryActorState<S = unknown>(
  transport: Pick<Transport, 'request'>,
  address: ActorAddress,
  key: string,
  options: { timeoutMs: number },
): Promise<ActorStateAnswer<S>> {
  const subject = actorSubjects(address).query(key);
  const res = await transport.request(subject, msgpackCodec.encode({ op: 'state' }), {
    timeoutMs: options.timeoutMs,
    headers: { [HEADERS.contentType]: msgpackCodec.contentType },
  });
  return {
    state: decodeAnswer<S>(res, subject),
    found: res.headers[ACTOR_QUERY_HEADERS.found] === 'true',
    stopped: res.headers[ACTOR_QUERY_HEADERS.stopped] === 'true',
  };
}

/** Asks for a key's {@link ActorStatus} (found, last applied seq, stopped). */
export async function queryActorStatus(
  transport: Pick<Transport, 'request'>,
  address: ActorAddress,
  key: string,
  options: { timeoutMs: number },
): Promise<ActorStatus> {
  const subject = actorSubjects(address).query(key);
  const res = await transport.request(subject, msgpackCodec.encode({ op: 'status' }), {
    timeoutMs: options.timeoutMs,
    headers: { [HEADERS.contentType]: msgpackCodec.contentType },
  });
  return decodeAnswer<ActorStatus>(res, subject);
}

/** Options of {@link resetActorKey}. */
export interface ResetActorKeyOptions {
  /** Also start the key again from `initial(key)`. */
  clearState?: boolean | undefined;
  /** `Nats-Msg-Id`: a re-send with the same id inside the stream's duplicate window is dropped. */
  msgId?: string | undefined;
  /**
   * Wait up to this long, ms, for the actor to have handled the reset (it answers after the
   * commit, at most once), so a refusal reaches the caller. Without it the call resolves once the
   * stream has stored the reset, which the actor handles whenever it runs.
   */
  timeoutMs?: number | undefined;
}

/**
 * Un-stops a key that supervision stopped (`stop-key`), through the input stream, so it is
 * ordered with the key's messages: those before the reset were dead-lettered, those after are
 * handled. With `clearState` the key also starts again from `initial(key)`. Resolves with the
 * stream's ack.
 *
 * A reset changes state, so the actor acts on it only when its run allows control
 * (`--allow-control`, `allowControl`); otherwise the reset is dead-lettered as a
 * `ControlNotAllowedError` and the key stays as it is. Who may publish it at all is NATS's
 * permission on `<prefix>.<topology>.<actor>.*.reset` (README, security).
 *
 * @throws ControlNotAllowedError (with `timeoutMs`) when the run refuses the reset;
 * RequestTimeoutError when no answer comes within `timeoutMs` (the reset is stored: the actor
 * handles it when it runs); TransportError for any other error answer.
 */
export async function resetActorKey(
  transport: Pick<Transport, 'publishDurable' | 'subscribe'>,
  address: ActorAddress,
  key: string,
  options: ResetActorKeyOptions = {},
): Promise<PubAck> {
  const subject = actorSubjects(address).reset(key);
  const body = msgpackCodec.encode({ clearState: options.clearState === true });
  const headers = { [HEADERS.contentType]: msgpackCodec.contentType };
  const timeoutMs = options.timeoutMs;
  if (timeoutMs === undefined) return transport.publishDurable(subject, body, { msgId: options.msgId, headers });
  const reply = replyInbox(transport, subject, timeoutMs);
  let ack: PubAck;
  try {
    ack = await transport.publishDurable(subject, body, { msgId: options.msgId, headers: { ...headers, [REPLY_TO_HEADER]: reply.inbox } });
  } catch (err) {
    reply.cancel();
    throw err;
  }
  // A re-send the stream dropped gets no answer of its own: the first one got it.
  if (ack.duplicate) {
    reply.cancel();
    return ack;
  }
  const res = await reply.answer;
  if (res.headers[ACTOR_QUERY_HEADERS.errorCode] === '403') throw new ControlNotAllowedError(address.topology, `reset of actor '${address.actor}'`);
  decodeAnswer(res, subject);
  return ack;
}

function decodeAnswer<T>(res: Envelope<Uint8Array>, subject: string): T {
  const error = res.headers[ACTOR_QUERY_HEADERS.error];
  if (error !== undefined) throw new TransportError('actor', subject, `${res.headers[ACTOR_QUERY_HEADERS.errorCode] ?? ''} ${error}`.trim());
  const codec = codecFor(res.headers[HEADERS.contentType]);
  if (codec === undefined) throw new TransportError('actor', subject, `unsupported content type '${res.headers[HEADERS.contentType]}'`);
  return codec.decode(res.data) as T;
}
