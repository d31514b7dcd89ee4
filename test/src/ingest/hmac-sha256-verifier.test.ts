import { describe, expect, it } from 'vitest';
import { hmacSha256Verifier } from '../../../src/ingest/hmac-sha256-verifier.js';
import { rejectionOf as rejection } from './rejection-of.js';

// GitHub's documented example ("Validating webhook deliveries").
const SECRET = "It's a Secret to Everybody";
const BODY = Buffer.from('Hello, World!');
const SIGNATURE = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';

describe('hmacSha256Verifier', () => {
  it("accepts GitHub's example with the default headers, and with GitHub's own header names", () => {
    expect(hmacSha256Verifier({ secrets: [SECRET] }).verify({ 'x-signature': SIGNATURE, 'x-delivery-id': 'd-1' }, BODY, 0)).toEqual({ id: 'd-1' });
    const github = hmacSha256Verifier({ secrets: [SECRET], signatureHeader: 'X-Hub-Signature-256', idHeader: 'X-GitHub-Delivery' });
    expect(github.verify({ 'x-hub-signature-256': SIGNATURE.toUpperCase().replace('SHA256', 'sha256'), 'x-github-delivery': '72d3162e' }, BODY, 0).id).toBe(
      '72d3162e',
    );
  });

  it('refuses (401) a wrong body, a wrong secret, a malformed or missing signature; (400) a missing delivery id', () => {
    const v = hmacSha256Verifier({ secrets: [SECRET] });
    expect(rejection(() => v.verify({ 'x-signature': SIGNATURE, 'x-delivery-id': 'd' }, Buffer.from('Hello, World?'), 0)).code).toBe('bad-signature');
    expect(rejection(() => hmacSha256Verifier({ secrets: ['other'] }).verify({ 'x-signature': SIGNATURE, 'x-delivery-id': 'd' }, BODY, 0)).status).toBe(401);
    expect(rejection(() => v.verify({ 'x-signature': SIGNATURE.slice(7), 'x-delivery-id': 'd' }, BODY, 0)).message).toContain(
      "must be 'sha256=<64 hex digits>'",
    );
    expect(rejection(() => v.verify({ 'x-delivery-id': 'd' }, BODY, 0)).status).toBe(401);
    expect(rejection(() => v.verify({ 'x-signature': SIGNATURE }, BODY, 0)).message).toBe("header 'x-delivery-id' is missing");
  });

  it('needs a non-empty secret', () => {
    expect(() => hmacSha256Verifier({ secrets: [] })).toThrow(/'secret' is required/);
    expect(() => hmacSha256Verifier({ secrets: [''] })).toThrow(/'secret' is required/);
  });
});
