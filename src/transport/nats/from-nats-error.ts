import { errors as natsErrors } from '@nats-io/nats-core';
import { InvalidConfigError, InvalidSubjectError, NoRespondersError, RequestTimeoutError, TransportError } from '../../errors.js';

/** What was being done when a NATS client error happened, for the mapped error's message. */
export interface NatsErrorContext {
  transport: string;
  operation: string;
  subject?: string | undefined;
  timeoutMs?: number | undefined;
}

/**
 * Maps a NATS client error to Sluice's: no responders → `NoRespondersError`, timeout →
 * `RequestTimeoutError` (both need a subject), anything else → `TransportError` with the client
 * error as `cause`. Sluice's own errors pass through unchanged.
 */
export function fromNatsError(thrown: unknown, context: NatsErrorContext): Error {
  if (isSluiceError(thrown)) return thrown;
  const err = thrown instanceof Error ? thrown : new Error(String(thrown));
  const { transport, operation, subject } = context;
  if (subject !== undefined) {
    if (hasInChain(err, (e) => e instanceof natsErrors.NoRespondersError || (e instanceof natsErrors.RequestError && e.isNoResponders()))) {
      return new NoRespondersError(subject, { cause: err });
    }
    if (hasInChain(err, (e) => e instanceof natsErrors.TimeoutError)) {
      return new RequestTimeoutError(subject, context.timeoutMs ?? 0, { cause: err });
    }
  }
  if (hasInChain(err, (e) => e instanceof natsErrors.AuthorizationError)) {
    return new TransportError(transport, operation, `the server refused the credentials (${err.message}); check user/password, token, creds or nkey`, {
      cause: err,
    });
  }
  if (hasInChain(err, (e) => e instanceof natsErrors.PermissionViolationError)) {
    return new TransportError(transport, operation, `permission denied: ${err.message}`, { cause: err });
  }
  return new TransportError(transport, operation, err.message, { cause: err });
}

function isSluiceError(e: unknown): e is Error {
  return (
    e instanceof TransportError ||
    e instanceof NoRespondersError ||
    e instanceof RequestTimeoutError ||
    e instanceof InvalidSubjectError ||
    e instanceof InvalidConfigError
  );
}

function hasInChain(err: Error, test: (e: Error) => boolean): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (test(e)) return true;
  }
  return false;
}
