import { errors as natsErrors } from '@nats-io/nats-core';

/**
 * True when the server refused a publish or subscription (the client passes its `-ERR` on as the
 * cause of the request's error). Here, beside the client, so code outside src/transport need not
 * know the NATS client's error classes.
 */
export function permissionViolation(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof natsErrors.PermissionViolationError) return true;
  }
  return false;
}
