import type { IncomingHttpHeaders } from 'node:http';

/** What a verified webhook request says about itself. */
export interface VerifiedWebhook {
  /** The sender's delivery id: the same on every retry of one event; becomes `Nats-Msg-Id`. */
  id: string;
  /** When the sender signed it, epoch ms, when the scheme carries a timestamp. */
  timestampMs?: number | undefined;
}

/**
 * Checks a request's signature over its exact body bytes.
 * @throws WebhookRejectedError (400 for a missing or malformed header, 401 for a signature
 * that does not match or a timestamp outside the tolerance).
 */
export interface WebhookVerifier {
  readonly scheme: 'standard-webhooks' | 'hmac-sha256';
  verify(headers: IncomingHttpHeaders, body: Buffer, nowMs: number): VerifiedWebhook;
}
