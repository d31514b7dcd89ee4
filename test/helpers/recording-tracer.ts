import { randomBytes } from 'node:crypto';
import { trace, type Attributes, type Context, type Span, type SpanContext, type SpanKind, type SpanOptions, type SpanStatus, type Tracer, type TracerProvider } from '@opentelemetry/api';

/** A span as the recording tracer saw it: what an in-memory exporter would hold. */
export interface RecordedSpan {
  readonly name: string;
  readonly kind: SpanKind | undefined;
  readonly context: SpanContext;
  readonly parent: SpanContext | undefined;
  readonly attributes: Attributes;
  status: SpanStatus | undefined;
  ended: boolean;
}

/**
 * A TracerProvider that records spans in memory (the OpenTelemetry SDK is not a dependency):
 * ids are random, the parent is read from the context as the SDK does (`trace.getSpanContext`).
 */
export function recordingTracerProvider(): { provider: TracerProvider; spans: RecordedSpan[] } {
  const spans: RecordedSpan[] = [];
  const tracer: Tracer = {
    startSpan(name: string, options: SpanOptions = {}, ctx?: Context): Span {
      const parent = ctx !== undefined ? trace.getSpanContext(ctx) : undefined;
      const context: SpanContext = { traceId: parent?.traceId ?? randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex'), traceFlags: 1 };
      const rec: RecordedSpan = { name, kind: options.kind, context, parent, attributes: { ...options.attributes }, status: undefined, ended: false };
      spans.push(rec);
      const span: Span = {
        spanContext: () => context,
        setAttribute: (k, v) => ((rec.attributes as Record<string, unknown>)[k] = v, span),
        setAttributes: (a) => (Object.assign(rec.attributes, a), span),
        addEvent: () => span,
        addLink: () => span,
        addLinks: () => span,
        setStatus: (s) => ((rec.status = s), span),
        updateName: () => span,
        end: () => void (rec.ended = true),
        isRecording: () => !rec.ended,
        recordException: () => undefined,
      };
      return span;
    },
    startActiveSpan: (() => {
      throw new Error('not used by Sluice');
    }) as Tracer['startActiveSpan'],
  };
  return { provider: { getTracer: () => tracer }, spans };
}
