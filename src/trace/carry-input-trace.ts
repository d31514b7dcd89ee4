import { HEADERS, type Envelope } from '../envelope/envelope.js';
import type { Settlement } from '../settle/settlement.js';
import { inputTraceOf } from './trace-input.js';

/**
 * Puts the causing input's `traceparent`/`tracestate` on the headers of an output that is not an
 * envelope (an envelope carries its input's headers already). For an array of envelopes (a
 * micro-batch's items) that is the first member that has one: one output has one parent, and the
 * first member is the one a reader of the trace looks for. Otherwise it is the input the current
 * settlement stands for; outputs of a group (a batch's `processChunks`) have no single input and
 * get none. Internal.
 */
export function carryInputTrace(value: unknown, headers: Record<string, string>, settlement: Settlement | undefined): void {
  if (Array.isArray(value)) {
    for (const item of value as unknown[]) {
      const h = (item as Partial<Envelope<unknown>> | null)?.headers;
      const traceparent = typeof h === 'object' && h !== null ? h[HEADERS.traceparent] : undefined;
      if (traceparent !== undefined) {
        headers[HEADERS.traceparent] = traceparent;
        const tracestate = h![HEADERS.tracestate];
        if (tracestate !== undefined) headers[HEADERS.tracestate] = tracestate;
        return;
      }
    }
  }
  const input = inputTraceOf(settlement);
  if (input?.traceparent === undefined) return;
  headers[HEADERS.traceparent] = input.traceparent;
  if (input.tracestate !== undefined) headers[HEADERS.tracestate] = input.tracestate;
}
