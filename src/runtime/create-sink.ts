import type { Logger } from '../logger.js';
import { Observable, type MonoTypeOperatorFunction } from 'rxjs';
import { isDeadLettered, type DeadLetterRecord } from '../dead-letter/dead-letter-record.js';
import type { Codec } from '../codec/codec.js';
import { carriesDecodedData } from '../codec/decode-envelope.js';
import { msgpackCodec } from '../codec/msgpack-codec.js';
import { HEADERS, type Envelope } from '../envelope/envelope.js';
import { EncodeError, ensureError, InvalidConfigError } from '../errors.js';
import { validateSubject } from '../transport/subject.js';
import type { Transport } from '../transport/transport.js';
import { currentSettlement, holdCurrent, withSettlement } from '../settle/settle-scope.js';
import type { Settlement } from '../settle/settlement.js';
import { markStage, traceSources, type StageInfo, type Trace } from '../observe/lineage.js';
import { checkPayload, validateSchemaOption } from '../schema/check-payload.js';
import { jsonSchemaOf } from '../schema/json-schema-of.js';
import type { JsonSchema } from '../schema/payload-schema.js';
import { PartCounters } from '../observe/part-stats.js';
import type { RuntimeStats } from '../observe/runtime-stats.js';
import type { SinkOptions, SinkTarget } from './types.js';
import { activeTracer } from '../trace/enable-tracing.js';
import { carryInputTrace } from '../trace/carry-input-trace.js';
import { endPublishSpan, startPublishSpan } from '../trace/start-publish-span.js';

/** What a sink needs from the runtime. Internal. */
export interface SinkDeps {
  readonly topologyName: string;
  readonly transport: Transport;
  readonly logger?: Pick<Logger, 'warn'> | undefined;
  /** Told, when a sink is applied to its upstream, where its values come from. */
  readonly wire?:
    | ((sink: {
        name: string;
        subject: string;
        trace: Trace;
        durable: boolean;
        subjects?: readonly string[] | undefined;
        /** Its published JSON Schema, derived only when the contract is asked for. */
        payload: () => JsonSchema | undefined;
        stream?: string | undefined;
      }) => void)
    | undefined;
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
 * goes to its `to` subject with its envelope's bytes forwarded as they arrived while its `data` is
 * what they decoded to (routing does not change it, so re-encoding would only cost CPU), else
 * encoded from `data` (a stage before the route replaced it).
 */
export function createSink(deps: SinkDeps): <V>(target?: SinkTarget<V>, options?: SinkOptions) => MonoTypeOperatorFunction<V> {
  const { transport, stats } = deps;
  let sinkCount = 0;
  return <V>(target?: SinkTarget<V>, options: SinkOptions = {}): MonoTypeOperatorFunction<V> => {
    if (typeof target === 'string') validateSubject(target, { wildcards: false });
    else if (target !== undefined && typeof target !== 'function') {
      throw new InvalidConfigError('sink', 'target', `must be a subject or a function, got ${typeof target}`);
    }
    const maxInFlight = options.maxInFlight ?? 256;
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new InvalidConfigError('sink', 'maxInFlight', `must be an integer >= 1, got ${maxInFlight}`);
    const codec = options.codec ?? msgpackCodec;
    const subjectOf = typeof target === 'string' ? () => target : target;
    validateSchemaOption(options.schema, `sink${typeof target === 'string' ? ` '${target}'` : ''}`);
    const schema = (options.validate ?? process.env['NODE_ENV'] !== 'production') ? options.schema : undefined;
    const check = (subject: string, data: unknown): void => {
      if (schema !== undefined) checkPayload(schema, data, { subject });
    };

    // Returns what to publish; undefined when the value was dead-lettered instead (bad input:
    // it is not passed on), 'input-failed' when its input is to be dead-lettered by its source.
    // Dead letters handed over by operators are stored, and passed on.
    const prepare = (value: V, settlement: Settlement | undefined): Outgoing | 'passed' | 'input-failed' | undefined => {
      if (isDeadLettered(value)) {
        deps.publishDeadLetter(value.record);
        return 'passed';
      }
      let subject = '(none)';
      try {
        if (isRouted(value)) {
          subject = value.to;
          const env = value.envelope;
          check(subject, env.data);
          // Bytes as they arrived only while `data` is what they decoded to: a stage before the
          // route may have replaced it (a spread keeps `raw`), and that output must be encoded.
          if (carriesDecodedData(env)) return { subject, bytes: env.raw!, headers: routedHeaders(env) };
          return { subject, ...encodeForPublish(subject, env, codec) };
        }
        if (subjectOf === undefined) throw new NoSinkTargetError('sink has no target subject for a value that is not a Routed');
        subject = subjectOf(value);
        validateSubject(subject, { wildcards: false });
        const isEnv = isEnvelope(value);
        check(subject, isEnv ? value.data : value);
        const out = { subject, ...encodeForPublish(subject, value, codec) };
        // An envelope carries its input's trace headers; any other value gets them from its input.
        if (!isEnv) carryInputTrace(value, out.headers, settlement);
        return out;
      } catch (err) {
        if (!isRouted(value) && !isEnvelope(value) && settlement !== undefined && !settlement.settled) {
          // A plain value has no bytes or position of its own; the input it came from has. Fail
          // that input, so its source dead-letters it (original bytes, stream, sequence) naming
          // this sink and the reason: the record a replay needs once the code is fixed.
          settlement.fail(ensureError(err), 'resume', `sink:${subject}`);
          return 'input-failed';
        }
        const env = isRouted(value)
          ? value.envelope
          : isEnvelope(value)
            ? value
            : { subject, data: value, headers: {}, id: '(unpublished)', eventTime: deps.now() };
        deps.deadLetter(env, err, `sink:${subject}`);
        return undefined;
      }
    };

    const name = options.name ?? (typeof target === 'string' ? target : `sink${++sinkCount}`);
    const durable = options.durable === true;
    const counters = new PartCounters('sink', `sink ${name}`);
    if (durable) {
      counters.unsettled = 0;
      counters.failures = 0;
    }
    stats.registerPart(counters);
    const described =
      typeof target === 'string'
        ? target
        : options.subjects !== undefined && options.subjects.length > 0
          ? options.subjects.join(', ')
          : target === undefined
            ? "(each Routed value's `to`)"
            : '(chosen per value)';
    return (source) => {
      const trace = traceSources(source);
      deps.wire?.({
        name,
        subject: described,
        trace,
        durable,
        subjects: typeof target === 'string' ? undefined : options.subjects,
        payload: () => jsonSchemaOf(options.schema, options.jsonSchema),
        stream: options.stream,
      });
      // A value that reaches this sink outside a settlement, on a path fed by a settling stream,
      // was carried by a stage Sluice cannot see (a bare mergeMap, delay): its input was already
      // acknowledged. Say so once and count every one.
      const expectsSettlement = trace.sources.some((n) => (n.kind === 'stream' && n.ordered !== true) || n.kind === 'poll');
      let warned = false;
      const noteUnsettled = (): void => {
        if (!expectsSettlement) return;
        stats.recordUnsettledOutput();
        if (warned) return;
        warned = true;
        deps.logger?.warn(
          { sink: name },
          'a value reached this sink after its input was acknowledged: a stage Sluice cannot see (e.g. mergeMap over a promise, delay) is async. That path is at-most-once; use settleMap for async work (docs/guarantees.md)',
        );
      };
      // What a sink passes on went out in its input's scope after the publish: stages downstream
      // (another sink, a lane's merge) settle with it, and describe follows paths through it.
      const stage: StageInfo = { name: `sink:${name}`, effect: 'passes' };
      if (!durable) {
        const passed = new Observable<V>((subscriber) =>
          source.subscribe({
            next: (value) => {
              counters.in++;
              const current = currentSettlement();
              if (current === undefined || current.settled) noteUnsettled();
              const out = prepare(value, current);
              if (out === undefined || out === 'input-failed') {
                if (out === undefined) counters.deadLetters++;
                return;
              }
              if (out !== 'passed') {
                const tracer = activeTracer();
                const span = tracer === undefined ? undefined : startPublishSpan(tracer, out.subject, out.headers, undefined);
                // An ack sent after this publish travels the same connection behind it.
                transport.publish(out.subject, out.bytes, { headers: out.headers });
                if (span !== undefined) endPublishSpan(span);
                stats.recordPublished(out.subject);
                counters.out++;
                if (stats.observer !== undefined) stats.observer.published(out.subject, eventTimeOf(value));
              }
              subscriber.next(value);
            },
            error: (err: unknown) => subscriber.error(err),
            complete: () => subscriber.complete(),
          }),
        );
        return markStage(passed, source, stage);
      }
      const passed = new Observable<V>((subscriber) => {
        let inFlight = 0;
        let completed = false;
        const waiting: Array<() => void> = [];
        const finishOne = (): void => {
          inFlight--;
          counters.unsettled = inFlight + waiting.length;
          const next = waiting.shift();
          if (next !== undefined) next();
          else if (completed && inFlight === 0) subscriber.complete();
        };
        const publish = (value: V, out: Outgoing, held: Settlement | undefined): void => {
          inFlight++;
          counters.unsettled = inFlight + waiting.length;
          const msgId = held?.replayStable === true ? `${deps.topologyName}.${name}.${held.key}.${held.nextOutputIndex(name)}` : undefined;
          const tracer = activeTracer();
          const span = tracer === undefined ? undefined : startPublishSpan(tracer, out.subject, out.headers, msgId);
          transport.publishDurable(out.subject, out.bytes, { headers: out.headers, msgId }).then(
            () => {
              if (span !== undefined) endPublishSpan(span);
              stats.recordPublished(out.subject);
              counters.out++;
              if (stats.observer !== undefined) stats.observer.published(out.subject, eventTimeOf(value));
              if (!subscriber.closed) withSettlement(held, () => subscriber.next(value));
              held?.release();
              finishOne();
            },
            (err: unknown) => {
              const error = ensureError(err);
              counters.failures!++;
              if (span !== undefined) endPublishSpan(span, error);
              if (held !== undefined) {
                // The input is redelivered (and dead-lettered after its last delivery).
                held.fail(error);
                held.release();
              } else {
                const env = isRouted(value)
                  ? value.envelope
                  : isEnvelope(value)
                    ? value
                    : { subject: out.subject, data: value, headers: {}, id: '(unpublished)', eventTime: deps.now() };
                deps.deadLetter(env, error, `sink:${out.subject}`);
                counters.deadLetters++;
              }
              finishOne();
            },
          );
        };
        const sub = source.subscribe({
          next: (value) => {
            counters.in++;
            const held = holdCurrent();
            if (held === undefined) noteUnsettled();
            const out = prepare(value, held);
            if (out === undefined || out === 'input-failed') {
              if (out === undefined) counters.deadLetters++;
              return held?.release();
            }
            if (out === 'passed') {
              withSettlement(held, () => subscriber.next(value));
              return held?.release();
            }
            if (inFlight < maxInFlight) publish(value, out, held);
            else {
              waiting.push(() => publish(value, out, held));
              counters.unsettled = inFlight + waiting.length;
            }
          },
          error: (err: unknown) => subscriber.error(err),
          complete: () => {
            completed = true;
            if (inFlight === 0) subscriber.complete();
          },
        });
        return () => sub.unsubscribe();
      });
      return markStage(passed, source, stage);
    };
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

function eventTimeOf(value: unknown): number | undefined {
  if (isRouted(value)) return value.envelope.eventTime;
  return isEnvelope(value) ? value.eventTime : undefined;
}
