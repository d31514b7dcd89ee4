import { from, isObservable, Observable, take, type Subscription } from 'rxjs';
import { codecFor } from '../codec/codec-for.js';
import type { Codec } from '../codec/codec.js';
import { decodeEnvelope } from '../codec/decode-envelope.js';
import { msgpackCodec } from '../codec/msgpack-codec.js';
import { HEADERS, type Envelope } from '../envelope/envelope.js';
import { EncodeError, ensureError, InvalidConfigError } from '../errors.js';
import { withSettlement } from '../settle/settle-scope.js';
import { validateSubject } from '../transport/subject.js';
import { checkPayload, validateSchemaOption } from '../schema/check-payload.js';
import { jsonSchemaOf } from '../schema/json-schema-of.js';
import { withLazyJsonSchemas } from '../observe/lazy-json-schemas.js';
import type { MountDeps } from './mount-actor.js';
import type { RespondFallbackReason, RespondHandler, RespondOptions } from './mount-types.js';
import { PartCounters } from '../observe/part-stats.js';

/** Headers on a responder's replies. The error pair is the one `@nats-io/services` uses. */
export const RESPOND_HEADERS = {
  /** `answered`, `deadline` or `overloaded` (the fallback answered), or `error`. */
  outcome: 'Sluice-Reply-Outcome',
  /** On an error reply (empty body): `<ErrorName>: <message>`, one line, at most 500 characters. */
  error: 'Nats-Service-Error',
  /** On an error reply: `400` the request could not be decoded, `500` the handler or fallback failed. */
  errorCode: 'Nats-Service-Error-Code',
} as const;

/** The handler completed without a value: there is nothing to reply. */
export class NoReplyError extends Error {
  override readonly name = 'NoReplyError';
}

const NO_BODY = new Uint8Array(0);
const MAX_ERROR_CHARS = 500;

/**
 * `t.respond`: serves core NATS request/reply on `subject` as a part of the topology (subscribed
 * and drained by the runtime). Each request gets exactly one reply: the handler's first value
 * when it comes within `deadlineMs`, else `fallback(request, 'deadline')`; with `maxInFlight`
 * requests running, `fallback(request, 'overloaded')` at once. A request that cannot be decoded
 * or does not match `schema`, a handler that throws, errors or completes without a value, a fallback that throws or a reply
 * that cannot be encoded get an error reply (empty body, {@link RESPOND_HEADERS}) and go to the
 * dead letters with the request's bytes (unless `deadLetterErrors: false`). Request/reply is
 * at-most-once: a request lost in a crash is not answered, and the requester's timeout decides.
 */
export function mountResponder<Req, Rep>(deps: MountDeps, subject: string, handler: RespondHandler<Req, Rep>, options: RespondOptions<Req, Rep>): void {
  const { ctx } = deps;
  const component = `respond '${subject}'`;
  validateSubject(subject, { wildcards: true });
  if (typeof handler !== 'function') throw new InvalidConfigError(component, 'handler', `must be a function, got ${typeof handler}`);
  if (typeof options !== 'object' || options === null) throw new InvalidConfigError(component, 'options', 'must be an object with deadlineMs and fallback');
  const { deadlineMs, fallback } = options;
  if (typeof deadlineMs !== 'number' || !Number.isFinite(deadlineMs) || deadlineMs < 0)
    throw new InvalidConfigError(component, 'deadlineMs', `must be a finite number >= 0, got ${String(deadlineMs)}`);
  if (typeof fallback !== 'function')
    throw new InvalidConfigError(component, 'fallback', `must be a function (request, reason) => reply, got ${typeof fallback}`);
  const maxInFlight = options.maxInFlight ?? 1000;
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1)
    throw new InvalidConfigError(component, 'maxInFlight', `must be an integer >= 1, got ${String(maxInFlight)}`);
  const name = options.name ?? subject;
  const operator = `respond:${name}`;
  const queue = options.queue ?? `sluice.${ctx.topologyName}`;
  validateSubject(queue, { wildcards: false });
  const deadLetterErrors = options.deadLetterErrors ?? true;
  validateSchemaOption(options.schema, component);
  validateSchemaOption(options.replySchema, component);
  const { transport, stats, logger, scheduler } = ctx;
  deps.wire?.(
    withLazyJsonSchemas(
      { kind: 'respond', subject, name, queue },
      { payload: () => jsonSchemaOf(options.schema, options.jsonSchema), replyPayload: () => jsonSchemaOf(options.replySchema, options.replyJsonSchema) },
    ),
  );
  // in: requests; out: replies (fallbacks and error replies included); failures: error replies; unsettled: requests being handled.
  const counters = new PartCounters('source', `respond ${name}`);
  counters.unsettled = 0;
  counters.failures = 0;
  stats.registerPart(counters);

  const reply = (to: string, body: Uint8Array, headers: Record<string, string>): void => {
    transport.publish(to, body, { headers });
    stats.recordPublished(to);
    counters.out++;
  };
  const failed = (request: Envelope<unknown>, to: string | undefined, thrown: unknown, code: 400 | 500): void => {
    const error = ensureError(thrown);
    counters.failures!++;
    if (to !== undefined) {
      const text = `${error.name}: ${error.message}`.replace(/[\r\n]+/g, ' ').slice(0, MAX_ERROR_CHARS);
      reply(to, NO_BODY, { [RESPOND_HEADERS.outcome]: 'error', [RESPOND_HEADERS.error]: text, [RESPOND_HEADERS.errorCode]: String(code) });
    }
    if (deadLetterErrors) {
      ctx.deadLetter(request, error, operator);
      counters.deadLetters++;
    } else
      logger.warn({ subject: request.subject, msgId: request.id, responder: name, error: error.name, reason: error.message }, 'request answered with an error');
  };
  const answer = (request: Envelope<Req>, to: string | undefined, codec: Codec, value: Rep, outcome: 'answered' | RespondFallbackReason): void => {
    if (to === undefined) return;
    let body: Uint8Array;
    try {
      body = codec.encode(value);
    } catch (err) {
      failed(request, to, new EncodeError(to, codec.contentType, ensureError(err).message, { cause: err }), 500);
      return;
    }
    reply(to, body, { [HEADERS.contentType]: codec.contentType, [RESPOND_HEADERS.outcome]: outcome });
  };
  const answerFallback = (request: Envelope<Req>, to: string | undefined, codec: Codec, reason: RespondFallbackReason): void => {
    let value: Rep;
    try {
      value = fallback(request, reason);
    } catch (err) {
      failed(request, to, err, 500);
      return;
    }
    answer(request, to, codec, value, reason);
  };

  const part = new Observable<never>((subscriber) => {
    const inFlight = new Set<{ work: Subscription | undefined; timer: Subscription | undefined }>();
    let sourceDone = false;
    const settleOne = (entry: { work: Subscription | undefined; timer: Subscription | undefined }): void => {
      inFlight.delete(entry);
      counters.unsettled = inFlight.size;
      entry.timer?.unsubscribe();
      entry.work?.unsubscribe();
      if (sourceDone && inFlight.size === 0) subscriber.complete();
    };

    const onRequest = (raw: Envelope<Uint8Array>): void => {
      stats.recordReceived(raw.subject);
      counters.in++;
      const to = raw.reply;
      let request: Envelope<Req>;
      try {
        request = decodeEnvelope<Req>(raw, msgpackCodec);
        if (options.schema !== undefined) checkPayload(options.schema, request.data, raw);
      } catch (err) {
        failed(raw, to, err, 400);
        return;
      }
      const codec = options.codec ?? codecFor(raw.headers[HEADERS.contentType]) ?? msgpackCodec;
      if (inFlight.size >= maxInFlight) return answerFallback(request, to, codec, 'overloaded');
      let result: Rep | PromiseLike<Rep> | Observable<Rep>;
      try {
        result = handler(request);
      } catch (err) {
        failed(request, to, err, 500);
        return;
      }
      if (!isObservable(result) && !isPromiseLike(result)) return answer(request, to, codec, result, 'answered');
      // Whichever comes first — a value, an error, completion, the deadline — answers; the rest is ignored.
      const entry: { work: Subscription | undefined; timer: Subscription | undefined } = { work: undefined, timer: undefined };
      let done = false;
      const end = (): boolean => {
        if (done) return false;
        done = true;
        settleOne(entry);
        return true;
      };
      inFlight.add(entry);
      counters.unsettled = inFlight.size;
      entry.timer = scheduler.schedule(() => {
        if (end()) answerFallback(request, to, codec, 'deadline');
      }, deadlineMs);
      entry.work = from(result)
        .pipe(take(1))
        .subscribe({
          next(value) {
            if (end()) answer(request, to, codec, value, 'answered');
          },
          error(err: unknown) {
            if (end()) failed(request, to, err, 500);
          },
          complete() {
            if (end()) failed(request, to, new NoReplyError(`${component}: the handler completed without a reply for message '${request.id}'`), 500);
          },
        });
      if (done) entry.work.unsubscribe();
    };

    const sub = transport
      .subscribe(subject, { queue })
      .pipe(ctx.untilStopped())
      .subscribe({
        // Outside any settlement: core requests have nothing to acknowledge.
        next: (raw) => withSettlement(undefined, () => onRequest(raw)),
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          sourceDone = true;
          if (inFlight.size === 0) subscriber.complete();
        },
      });
    return () => {
      sub.unsubscribe();
      for (const entry of [...inFlight]) settleOne(entry);
    };
  });
  deps.run(part, `responder ${name}`);
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
