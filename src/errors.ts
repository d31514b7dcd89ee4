/**
 * Sluice's error classes: one class per failure kind, each with `name` set so it survives
 * serialisation into a dead-letter record (where `instanceof` does not). Messages name the
 * field or subject and show the value; the underlying error goes in `cause`.
 */

/** Where a message came from, for errors and dead letters. */
export interface MessageOrigin {
  readonly subject: string;
  readonly stream?: string | undefined;
  readonly seq?: number | undefined;
}

export function describeOrigin(origin: MessageOrigin): string {
  const pos = origin.stream !== undefined ? ` (stream ${origin.stream}, seq ${origin.seq ?? '?'})` : '';
  return `subject '${origin.subject}'${pos}`;
}

/** A configuration value is invalid. Thrown when an operator or component is created, never later. */
export class InvalidConfigError extends Error {
  override readonly name = 'InvalidConfigError';
  constructor(
    readonly component: string,
    readonly field: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`${component}: '${field}' ${detail}`, options);
  }
}

/** Bytes on a subject could not be decoded with the codec their content type names. */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  constructor(
    readonly origin: MessageOrigin,
    readonly contentType: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`cannot decode ${contentType} message on ${describeOrigin(origin)}: ${detail}`, options);
  }
}

/** A value could not be encoded for publishing. */
export class EncodeError extends Error {
  override readonly name = 'EncodeError';
  constructor(
    readonly subject: string,
    readonly contentType: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`cannot encode ${contentType} message for subject '${subject}': ${detail}`, options);
  }
}

/** A request got no answer within its timeout. */
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
  constructor(
    readonly subject: string,
    readonly timeoutMs: number,
    options?: ErrorOptions,
  ) {
    super(`request on subject '${subject}' timed out after ${timeoutMs} ms`, options);
  }
}

/** A request was sent to a subject nobody subscribes to. */
export class NoRespondersError extends Error {
  override readonly name = 'NoRespondersError';
  constructor(
    readonly subject: string,
    options?: ErrorOptions,
  ) {
    super(`no responders on subject '${subject}'`, options);
  }
}

/** A subject (or subscription pattern) is malformed. */
export class InvalidSubjectError extends Error {
  override readonly name = 'InvalidSubjectError';
  constructor(
    readonly subject: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`invalid subject '${subject}': ${detail}`, options);
  }
}

/** The transport cannot do what was asked (closed, no JetStream, no stream for a subject...). */
export class TransportError extends Error {
  override readonly name = 'TransportError';
  constructor(
    readonly transport: string,
    readonly operation: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`${transport} ${operation}: ${detail}`, options);
  }
}

/**
 * A failure that retrying will not fix (bad data, a rule violation). Handlers throw it to send a
 * message straight to the dead letters instead of retrying.
 */
export class TerminalError extends Error {
  override readonly name: string = 'TerminalError';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * A bounded buffer is full: the downstream is slower than the input for longer than the bound
 * allows. Raised instead of growing memory without limit.
 */
export class BufferOverflowError extends Error {
  override readonly name = 'BufferOverflowError';
  constructor(
    readonly component: string,
    readonly limit: number,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`${component}: buffer limit ${limit} exceeded: ${detail}`, options);
  }
}

/**
 * A state-changing control (dead-letter replay, an actor key's reset) that the run does not allow:
 * it runs without `--allow-control` (`runTopology`'s, or `startActor`'s, `allowControl`). NATS
 * permissions decide who may ask; this switch decides whether the run acts at all. Service
 * endpoints answer it with code 403.
 */
export class ControlNotAllowedError extends Error {
  override readonly name = 'ControlNotAllowedError';
  constructor(
    readonly topology: string,
    /** What was refused, e.g. `replay`, `reset of actor 'balances'`. */
    readonly control: string,
    options?: ErrorOptions,
  ) {
    super(`${control} is disabled for topology '${topology}': run it with --allow-control (runTopology option allowControl)`, options);
  }
}

/** Turns any thrown value into an Error, once, at a boundary. */
export function ensureError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new Error(typeof thrown === 'string' ? thrown : `non-error thrown: ${safeString(thrown)}`);
}

function safeString(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/**
 * A part of a topology failed under the `'stop'` supervision, or kept failing with no message
 * processed in between, so the run ended (the test driver's calls throw it from then on). `part`
 * names it: `pipeline <n>`, `settleMap:<name>`, `actor <name>`... An operator raising it does not
 * know its topology (`topology` undefined); the runtime's has it.
 */
export class TopologyFailedError extends Error {
  override readonly name = 'TopologyFailedError';
  constructor(
    readonly topology: string | undefined,
    readonly part: string,
    cause: Error | undefined,
    /** What went wrong; default the cause's message. */
    readonly detail: string = cause?.message ?? 'unknown error',
  ) {
    super(topology !== undefined ? `topology '${topology}' failed in ${part}: ${detail}` : `${part} failed: ${detail}`, { cause });
  }
}
