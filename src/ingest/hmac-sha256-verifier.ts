import { createHmac } from 'node:crypto';
import { InvalidConfigError } from '../errors.js';
import { equalSecretBytes } from './equal-secret-bytes.js';
import { deliveryId, headerValue } from './header-value.js';
import { WebhookRejectedError } from './webhook-rejected-error.js';
import type { VerifiedWebhook, WebhookVerifier } from './webhook-verifier.js';

/** Options for {@link hmacSha256Verifier}. */
export interface HmacSha256Options {
  /** Shared secrets, used as UTF-8 bytes; several at once for rotation. */
  secrets: readonly string[];
  /** Header holding `sha256=<hex>`. Default `X-Signature` (GitHub: `X-Hub-Signature-256`). */
  signatureHeader?: string | undefined;
  /** Header holding the delivery id. Default `X-Delivery-Id` (GitHub: `X-GitHub-Delivery`). */
  idHeader?: string | undefined;
}

const SIGNATURE = /^sha256=([0-9a-fA-F]{64})$/;

/**
 * The GitHub-style scheme: `<signatureHeader>: sha256=<hex HMAC-SHA256 of the body>` and the
 * delivery id in `<idHeader>`. It signs no timestamp, so there is no replay window: a captured
 * request replayed within the stream's duplicate window is recorded once (same id), one replayed
 * later is recorded again. Prefer the Standard Webhooks scheme where the sender offers it.
 *
 * @throws InvalidConfigError when no secret is given.
 */
export function hmacSha256Verifier(options: HmacSha256Options): WebhookVerifier {
  if (options.secrets.length === 0 || options.secrets.some((s) => s === '')) {
    throw new InvalidConfigError('ingest', 'secret', 'is required (and may not be empty) for the hmac-sha256 scheme');
  }
  const keys = options.secrets.map((s) => Buffer.from(s, 'utf8'));
  const signatureHeader = (options.signatureHeader ?? 'X-Signature').toLowerCase();
  const idHeader = (options.idHeader ?? 'X-Delivery-Id').toLowerCase();
  return {
    scheme: 'hmac-sha256',
    verify(headers, body): VerifiedWebhook {
      const match = SIGNATURE.exec(headerValue(headers, signatureHeader, 401));
      if (match === null) throw new WebhookRejectedError(401, 'bad-signature', `header '${signatureHeader}' must be 'sha256=<64 hex digits>'`);
      const given = Buffer.from(match[1]!, 'hex');
      const matched = keys.some((key) => equalSecretBytes(createHmac('sha256', key).update(body).digest(), given));
      if (!matched) throw new WebhookRejectedError(401, 'bad-signature', `'${signatureHeader}' does not match the body with a configured secret`);
      return { id: deliveryId(headers, idHeader) };
    },
  };
}
