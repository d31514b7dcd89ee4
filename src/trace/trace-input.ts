import type { Span } from '@opentelemetry/api';
import { HEADERS, type Envelope } from '../envelope/envelope.js';
import type { Settlement } from '../settle/settlement.js';
import { activeTracer, otelApi } from './enable-tracing.js';
import { formatTraceparent, parseTraceparent } from './parse-traceparent.js';

/**
 * The trace context of the input a settlement stands for: with tracing off, the input's own
 * headers object (it has these two fields under these names, so nothing is allocated). Internal.
 */
export interface InputTrace {
  readonly traceparent?: string | undefined;
  readonly tracestate?: string | undefined;
  /** The consumer span, when tracing is on; ended when the input settles. */
  readonly span?: Span | undefined;
}

// Kept on the settlement because that is what every stage downstream can still see (the sink
// reads `currentSettlement()`), also after an async `settleMap`, and it goes when the settlement
// goes. A symbol property rather than a WeakMap: a WeakMap entry per input measured ~1 µs per
// message in GC (bench/trace-overhead.bench.ts); a property costs a hidden-class transition.
const INPUT_TRACE = Symbol('sluice.inputTrace');
type Traced = { [INPUT_TRACE]?: InputTrace };

/**
 * Called by a stream source for each decoded input, in its settlement. Tracing off: notes the
 * input's `traceparent` (one header lookup) so a sink can put it on outputs that are not envelopes.
 * Tracing on: starts the consumer span (child of the input's `traceparent`, else a new trace) and
 * returns the envelope with `traceparent` naming that span, so outputs and dead letters made from
 * it are its children.
 */
export function traceInput<T>(env: Envelope<T>, settlement: Settlement): Envelope<T> {
  const traceparent = env.headers[HEADERS.traceparent];
  const tracer = activeTracer();
  if (tracer === undefined) {
    if (traceparent !== undefined) (settlement as Traced)[INPUT_TRACE] = env.headers;
    return env;
  }
  const { context, createTraceState, SpanKind, trace } = otelApi();
  const parent = parseTraceparent(traceparent);
  const tracestate = env.headers[HEADERS.tracestate];
  const parentContext =
    parent === undefined
      ? context.active()
      : trace.setSpanContext(context.active(), {
          traceId: parent.traceId,
          spanId: parent.spanId,
          traceFlags: parent.flags,
          isRemote: true,
          ...(tracestate !== undefined ? { traceState: createTraceState(tracestate) } : {}),
        });
  const span = tracer.startSpan(
    `process ${env.subject}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.system': 'nats',
        'messaging.operation.type': 'process',
        'messaging.destination.name': env.subject,
        'messaging.message.id': env.id,
        ...(env.stream !== undefined ? { 'sluice.stream': env.stream, 'sluice.stream.sequence': env.seq ?? -1 } : {}),
      },
    },
    parentContext,
  );
  const sc = span.spanContext();
  if (!trace.isSpanContextValid(sc)) {
    // A no-op provider: nothing is recorded, the input's own context travels on.
    if (traceparent !== undefined) (settlement as Traced)[INPUT_TRACE] = env.headers;
    return env;
  }
  const own = formatTraceparent({ traceId: sc.traceId, spanId: sc.spanId, flags: sc.traceFlags });
  (settlement as Traced)[INPUT_TRACE] = { traceparent: own, tracestate, span };
  return { ...env, headers: { ...env.headers, [HEADERS.traceparent]: own } };
}

/** The trace context of the input `settlement` stands for, if it had (or was given) one. Internal. */
export function inputTraceOf(settlement: Settlement | undefined): InputTrace | undefined {
  return settlement === undefined ? undefined : (settlement as Traced)[INPUT_TRACE];
}

/** Ends the input's consumer span when it settles; a failure marks the span as an error. Internal. */
export function endInputSpan(settlement: Settlement, failure: Error | undefined): void {
  if (activeTracer() === undefined) return;
  const span = (settlement as Traced)[INPUT_TRACE]?.span;
  if (span === undefined) return;
  if (failure !== undefined) {
    span.recordException(failure);
    span.setStatus({ code: otelApi().SpanStatusCode.ERROR, message: failure.message });
  }
  span.end();
}
