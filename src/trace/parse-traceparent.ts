/** A W3C `traceparent` header value, split into its fields (lowercase hex). */
export interface Traceparent {
  readonly traceId: string;
  readonly spanId: string;
  /** Bit 0 is "sampled". */
  readonly flags: number;
}

// Version 00 is the only one defined; a later version may append fields after the flags, and the
// spec asks readers to parse the 00 prefix of it (https://www.w3.org/TR/trace-context/#versioning-of-traceparent).
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/**
 * Parses a `traceparent` header; undefined for anything the spec says to ignore (bad shape,
 * version `ff`, extra fields on version 00, all-zero ids), so a malformed header from a
 * producer is dropped rather than carried on or failing the message.
 */
export function parseTraceparent(value: string | undefined): Traceparent | undefined {
  if (value === undefined) return undefined;
  const m = TRACEPARENT.exec(value.trim());
  if (m === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = m;
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId: traceId!, spanId: spanId!, flags: parseInt(flags!, 16) };
}

/** Formats a version-00 `traceparent` header value. */
export function formatTraceparent(tp: Traceparent): string {
  return `00-${tp.traceId}-${tp.spanId}-${(tp.flags & 0xff).toString(16).padStart(2, '0')}`;
}
