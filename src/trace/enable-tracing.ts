import { createRequire } from 'node:module';
import type * as OtelApi from '@opentelemetry/api';
import type { Tracer, TracerProvider } from '@opentelemetry/api';
import { packageVersion } from '../package-version.js';

/** Options for {@link enableTracing}. */
export interface TracingOptions {
  /**
   * Where spans go. Default: the global provider the application registered with the
   * OpenTelemetry SDK (`provider.register()` / `trace.setGlobalTracerProvider`).
   */
  readonly tracerProvider?: TracerProvider | undefined;
}

// Module state, read on the hot path as one variable: tracing is off unless asked for, so a
// topology that does not trace pays one `undefined` check per input and per publish.
let active: Tracer | undefined;
// The OpenTelemetry API (45 CommonJS modules) is loaded by the first enableTracing, not at start:
// a topology that does not trace never loads it. Required, not imported, to keep enableTracing
// synchronous; an ESM import of this CommonJS package would give the same module instance.
let api: typeof OtelApi | undefined;

/**
 * Turns OpenTelemetry spans on for every topology in this process: a consumer span per stream
 * input (its parent taken from the input's `traceparent`) and a producer span per sink publish,
 * and outputs then carry the producer span's `traceparent`. Off by default; `traceparent` and
 * `tracestate` headers are carried from inputs to outputs either way.
 */
export function enableTracing(options: TracingOptions = {}): void {
  api ??= createRequire(import.meta.url)('@opentelemetry/api') as typeof OtelApi;
  const provider = options.tracerProvider ?? api.trace.getTracerProvider();
  active = provider.getTracer('sluice', packageVersion());
}

/** Turns spans off again (headers are still carried). */
export function disableTracing(): void {
  active = undefined;
}

/** The tracer spans are made with, or undefined when tracing is off. Internal. */
export function activeTracer(): Tracer | undefined {
  return active;
}

/** The OpenTelemetry API, loaded once tracing was enabled. Internal: call only with a tracer. */
export function otelApi(): typeof OtelApi {
  if (api === undefined) throw new Error('otelApi: tracing was never enabled');
  return api;
}
