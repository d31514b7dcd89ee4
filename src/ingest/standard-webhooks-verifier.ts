import { createHmac } from 'node:crypto';
import { InvalidConfigError } from '../errors.js';
import { equalSecretBytes } from './equal-secret-bytes.js';
import { deliveryId, headerValue } from './header-value.js';
import { WebhookRejectedError } from './webhook-rejected-error.js';
import type { VerifiedWebhook, WebhookVerifier } from './webhook-verifier.js';

/** Options for {@link standardWebhooksVerifier}. */
export interface StandardWebhooksOptions {
  /**
   * `whsec_<base64>` secrets (the prefix is optional). Several are accepted at once, so a
   * secret can be rotated without refusing the senders still signing with the old one.
   */
  secrets: readonly string[];
  /** How far the `webhook-timestamp` may be from now, either way, seconds. Default 300. */
  toleranceSec?: number | undefined;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const TIMESTAMP = /^\d{1,15}$/;

/**
 * The Standard Webhooks scheme (standardwebhooks.com, as Svix and others send it): headers
 * `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`, a space-separated
 * list of `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`. A request passes when any `v1`
 * signature matches any secret (constant-time compare) and its timestamp is within the
 * tolerance; a captured request replayed later is refused as stale, and one replayed sooner
 * carries an id the stream has already recorded.
 *
 * @throws InvalidConfigError for a secret that is not base64 (the value is not shown) or a
 * tolerance that is not a positive number.
 */
export function standardWebhooksVerifier(options: StandardWebhooksOptions): WebhookVerifier {
  const keys = parseSecrets(options.secrets);
  const toleranceSec = options.toleranceSec ?? 300;
  if (!Number.isFinite(toleranceSec) || toleranceSec <= 0) {
    throw new InvalidConfigError('ingest', 'toleranceSec', `must be a number > 0, got ${String(toleranceSec)}`);
  }
  return {
    scheme: 'standard-webhooks',
    verify(headers, body, nowMs): VerifiedWebhook {
      const id = deliveryId(headers, 'webhook-id');
      const timestamp = headerValue(headers, 'webhook-timestamp');
      if (!TIMESTAMP.test(timestamp)) {
        throw new WebhookRejectedError(400, 'bad-timestamp', `header 'webhook-timestamp' must be Unix seconds, got '${timestamp.slice(0, 32)}'`);
      }
      const signatures = signaturesOf(headerValue(headers, 'webhook-signature', 401));
      const signed = Buffer.from(`${id}.${timestamp}.`);
      const matched = keys.some((key) => {
        const expected = createHmac('sha256', key).update(signed).update(body).digest();
        return signatures.some((given) => equalSecretBytes(expected, given));
      });
      if (!matched) throw new WebhookRejectedError(401, 'bad-signature', `no v1 signature in 'webhook-signature' matches the body with a configured secret`);
      const timestampMs = Number(timestamp) * 1000;
      const skewSec = Math.round((nowMs - timestampMs) / 1000);
      if (Math.abs(nowMs - timestampMs) > toleranceSec * 1000) {
        throw new WebhookRejectedError(
          401,
          'stale-timestamp',
          `'webhook-timestamp' ${timestamp} is ${Math.abs(skewSec)} s ${skewSec >= 0 ? 'old' : 'in the future'}; the tolerance is ${toleranceSec} s`,
        );
      }
      return { id, timestampMs };
    },
  };
}

/** `v1,<base64>` entries of a `webhook-signature` header, decoded; other versions are ignored. */
function signaturesOf(header: string): Buffer[] {
  const out: Buffer[] = [];
  for (const part of header.split(' ')) {
    const comma = part.indexOf(',');
    if (comma < 0 || part.slice(0, comma) !== 'v1') continue;
    const b64 = part.slice(comma + 1);
    if (BASE64.test(b64)) out.push(Buffer.from(b64, 'base64'));
  }
  if (out.length === 0) throw new WebhookRejectedError(401, 'bad-signature', `'webhook-signature' holds no 'v1,<base64>' signature`);
  return out;
}

function parseSecrets(secrets: readonly string[]): Buffer[] {
  if (secrets.length === 0) throw new InvalidConfigError('ingest', 'secret', 'is required for the standard-webhooks scheme (whsec_<base64>)');
  return secrets.map((secret, i) => {
    const b64 = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
    if (!BASE64.test(b64) || b64.length % 4 === 1) {
      throw new InvalidConfigError('ingest', `secret[${i}]`, `must be whsec_ followed by base64 (the value is not shown), got ${secret.length} characters`);
    }
    return Buffer.from(b64, 'base64');
  });
}
