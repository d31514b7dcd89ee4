import { from, map, mergeMap, Observable, type MonoTypeOperatorFunction } from 'rxjs';
import { isDeadLettered, type DeadLetterRecord } from '../dead-letter/dead-letter-record.js';
import type { Codec } from '../codec/codec.js';
import { msgpackCodec } from '../codec/msgpack-codec.js';
import { HEADERS, type Envelope } from '../envelope/envelope.js';
import { EncodeError, ensureError, InvalidConfigError } from '../errors.js';
import { validateSubject } from '../transport/subject.js';
import type { Transport } from '../transport/transport.js';
import type { RuntimeStats } from './runtime-stats.js';
import type { SinkOptions, SinkTarget } from './types.js';

/** What a sink needs from the runtime. Internal. */
export interface SinkDeps {
  readonly transport: Transport;
  readonly stats: RuntimeStats;
  readonly now: () => number;
  readonly deadLetter: (env: Envelope<unknown>, error: unknown, operator: string) => void;
  readonly publishDeadLetter: (record: DeadLetterRecord) => void;
}

interface Outgoing {
  readonly subject: string;
  readonly bytes: Uint8Array;
  readonly headers: Record<string, string>;
}

/** A value that could not be published because the sink has no subject for it. */
export class NoSinkTargetError extends Error {
  override readonly name = 'NoSinkTargetError';
}

/**
 * Builds `ctx.sink`. Besides plain values and envelopes it understands the operators' in-band
 * protocol: a `DeadLettered` goes to the dead letters, and a `Routed` (from `route`/`tier`)
 * goes to its `to` subject with its envelope's bytes forwarded as they arrived (the envelope is
 * unchanged by routing, so re-encoding would only cost CPU).
 */
export function createSink(deps: SinkDeps): <V>(target?: SinkTarget<V>, options?: SinkOptions) => MonoTypeOperatorFunction<V> {
  const { transport, stats } = deps;
  return <V>(target?: SinkTarget<V>, options: SinkOptions = {}): MonoTypeOperatorFunction<V> => {
    if (typeof target === 'string') validateSubject(target, { wildcards: false });
    else if (target !== undefined && typeof target !== 'function') {
      throw new InvalidConfigError('sink', 'target', `must be a subject or a function, got ${typeof target}`);
    }
    const maxInFlight = options.maxInFlight ?? 256;
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new InvalidConfigError('sink', 'maxInFlight', `must be an integer >= 1, got ${maxInFlight}`);
    const codec = options.codec ?? msgpackCodec;
    const subjectOf = typeof target === 'string' ? () => target : target;

    // Returns what to publish; undefined when the value was dead-lettered instead (bad input:
    // it is not passed on). Dead letters handed over by operators are stored, and passed on.
    const prepare = (value: V): Outgoing | 'passed' | undefined => {
      if (isDeadLettered(value)) {
        deps.publishDeadLetter(value.record);
        return 'passed';
      }
      let subject = '(none)';
      try {
        if (isRouted(value)) {
          subject = value.to;
          const env = value.envelope;
          if (env.raw !== undefined) return { subject, bytes: env.raw, headers: routedHeaders(env) };
          return { subject, ...encodeForPublish(subject, env, codec) };
        }
        if (subjectOf === undefined) throw new NoSinkTargetError('sink has no target subject for a value that is not a Routed');
        subject = subjectOf(value);
        validateSubject(subject, { wildcards: false });
        return { subject, ...encodeForPublish(subject, value, codec) };
      } catch (err) {
        const env = isRouted(value) ? value.envelope : isEnvelope(value) ? value : { subject, data: value, headers: {}, id: '(unpublished)', eventTime: deps.now() };
        deps.deadLetter(env, err, `sink:${subject}`);
        return undefined;
      }
    };

    if (options.durable === true) {
      return (source) =>
        source.pipe(
          mergeMap((value) => {
            const out = prepare(value);
            if (out === undefined) return [];
            if (out === 'passed') return [value];
            return from(transport.publishDurable(out.subject, out.bytes, { headers: out.headers })).pipe(
              map(() => {
                stats.recordPublished(out.subject);
                return value;
              }),
            );
          }, maxInFlight),
        );
    }
    return (source) =>
      new Observable<V>((subscriber) =>
        source.subscribe({
          next: (value) => {
            const out = prepare(value);
            if (out === undefined) return;
            if (out !== 'passed') {
              transport.publish(out.subject, out.bytes, { headers: out.headers });
              stats.recordPublished(out.subject);
            }
            subscriber.next(value);
          },
          error: (err: unknown) => subscriber.error(err),
          complete: () => subscriber.complete(),
        }),
      );
  };
}

/**
 * Encodes a value (an envelope's `data`, or the value itself) with its outgoing headers: an
 * envelope's own headers minus `Nats-Msg-Id` (it would make JetStream drop the output as a
 * duplicate of the input), plus event time, key and `Content-Type`.
 * @throws EncodeError
 */
export function encodeForPublish(subject: string, value: unknown, codec: Codec, extra?: Readonly<Record<string, string>>): Omit<Outgoing, 'subject'> {
  const env = isEnvelope(value) ? value : undefined;
  let bytes: Uint8Array;
  try {
    bytes = codec.encode(env !== undefined ? env.data : value);
  } catch (err) {
    throw new EncodeError(subject, codec.contentType, ensureError(err).message, { cause: err });
  }
  const headers = env !== undefined ? forwardHeaders(env) : {};
  Object.assign(headers, extra);
  headers[HEADERS.contentType] = codec.contentType;
  return { bytes, headers };
}

/**
 * Headers of a routed envelope forwarded byte for byte: the ones it arrived with (minus
 * `Nats-Msg-Id`) and its key. No event-time header is made up for input that had none: the
 * receiver's clock gives the same time, and a headerless publish skips building NATS headers,
 * which measured ~40% of the forwarding cost (bench `route-sink` mode).
 */
function routedHeaders(env: Envelope<unknown>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const k in env.headers) if (k !== HEADERS.msgId) headers[k] = env.headers[k]!;
  if (env.key !== undefined && headers[HEADERS.key] === undefined) headers[HEADERS.key] = env.key;
  return headers;
}

function forwardHeaders(env: Envelope<unknown>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(env.headers)) if (k !== HEADERS.msgId) headers[k] = v;
  headers[HEADERS.eventTime] = String(env.eventTime);
  if (env.key !== undefined) headers[HEADERS.key] = env.key;
  return headers;
}

/** Duck-typed: envelopes are plain objects, and users build them with `makeEnvelope` or spreads. */
export function isEnvelope(value: unknown): value is Envelope<unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<Envelope<unknown>>;
  return typeof v.subject === 'string' && typeof v.id === 'string' && typeof v.eventTime === 'number' && typeof v.headers === 'object' && 'data' in v;
}

/** The shape `route`/`tier` emit; duck-typed so the runtime does not depend on operators. */
function isRouted(value: unknown): value is { kind: 'routed'; to: string; envelope: Envelope<unknown> } {
  const v = value as { kind?: unknown; to?: unknown; envelope?: unknown } | null;
  return typeof v === 'object' && v !== null && v.kind === 'routed' && typeof v.to === 'string' && isEnvelope(v.envelope);
}
