/** Why a webhook request was refused; the `code` field of the JSON error body. */
export type WebhookRejectionCode =
  | 'not-found'
  | 'method-not-allowed'
  | 'unsupported-media-type'
  | 'payload-too-large'
  | 'missing-header'
  | 'bad-timestamp'
  | 'bad-signature'
  | 'stale-timestamp'
  | 'bad-delivery-id'
  | 'invalid-json'
  | 'busy'
  | 'unavailable';

/**
 * A webhook request the ingress answers with an error status instead of recording it. The
 * message is what the sender reads in the response body, so it names the header or limit at
 * fault and never contains a secret or an expected signature.
 */
export class WebhookRejectedError extends Error {
  override readonly name = 'WebhookRejectedError';
  constructor(
    readonly status: number,
    readonly code: WebhookRejectionCode,
    detail: string,
    /** Extra response headers (`Allow`, `Retry-After`). */
    readonly headers: Readonly<Record<string, string>> = {},
    options?: ErrorOptions,
  ) {
    super(detail, options);
  }
}
