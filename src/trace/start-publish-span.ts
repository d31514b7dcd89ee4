import type { Span, Tracer } from '@opentelemetry/api';
import { HEADERS } from '../envelope/envelope.js';
import { otelApi } from './enable-tracing.js';
import { formatTraceparent, parseTraceparent } from './parse-traceparent.js';

/**
 * Starts the producer span of one publish, a child of the `traceparent` the output carries (its
 * input's consumer span), and rewrites that header to name the new span so the receiver's spans
 * hang below it. The caller ends it with {@link endPublishSpan} once the publish is done (acked,
 * for a durable sink). Internal.
 */
export function startPublishSpan(tracer: Tracer, subject: string, headers: Record<string, string>, msgId: string | undefined): Span {
  const { context, SpanKind, trace } = otelApi();
  const parent = parseTraceparent(headers[HEADERS.traceparent]);
  const parentContext =
    parent === undefined
      ? context.active()
      : trace.setSpanContext(context.active(), { traceId: parent.traceId, spanId: parent.spanId, traceFlags: parent.flags, isRemote: false });
  const span = tracer.startSpan(
    `send ${subject}`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'nats',
        'messaging.operation.type': 'send',
        'messaging.destination.name': subject,
        ...(msgId !== undefined ? { 'messaging.message.id': msgId } : {}),
      },
    },
    parentContext,
  );
  const sc = span.spanContext();
  if (trace.isSpanContextValid(sc)) headers[HEADERS.traceparent] = formatTraceparent({ traceId: sc.traceId, spanId: sc.spanId, flags: sc.traceFlags });
  return span;
}

/** Ends a producer span; a failed publish marks it as an error. Internal. */
export function endPublishSpan(span: Span, error?: Error): void {
  if (error !== undefined) {
    span.recordException(error);
    span.setStatus({ code: otelApi().SpanStatusCode.ERROR, message: error.message });
  }
  span.end();
}
