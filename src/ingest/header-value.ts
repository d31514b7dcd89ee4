import type { IncomingHttpHeaders } from 'node:http';
import { WebhookRejectedError } from './webhook-rejected-error.js';

/**
 * The single value of a request header (`name` in lower case).
 * @throws WebhookRejectedError 400 when it is missing, empty or repeated.
 */
export function headerValue(headers: IncomingHttpHeaders, name: string, status = 400): string {
  const value = headers[name];
  if (typeof value !== 'string' || value === '') {
    throw new WebhookRejectedError(status, 'missing-header', `header '${name}' is ${Array.isArray(value) ? 'repeated' : 'missing'}`);
  }
  return value;
}

const DELIVERY_ID = /^[\x21-\x7e]{1,256}$/;

/**
 * The delivery id from header `name`: 1-256 visible ASCII characters, so it is a valid
 * `Nats-Msg-Id` header value.
 * @throws WebhookRejectedError 400 when missing or malformed.
 */
export function deliveryId(headers: IncomingHttpHeaders, name: string): string {
  const id = headerValue(headers, name);
  if (!DELIVERY_ID.test(id)) {
    throw new WebhookRejectedError(400, 'bad-delivery-id', `header '${name}' must be 1-256 visible ASCII characters (no spaces), got ${id.length} characters`);
  }
  return id;
}
