import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../../src/errors.js';
import { standardWebhooksVerifier } from '../../../src/ingest/standard-webhooks-verifier.js';
import { rejectionOf as rejection } from './rejection-of.js';

// The Standard Webhooks reference example (standard-webhooks repository, spec and libraries).
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const TS = '1614265330';
const BODY = Buffer.from('{"test": 2432232314}');
const SIGNATURE = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';
const AT = Number(TS) * 1000;

const headers = (over: Record<string, string | undefined> = {}) => {
  const h: Record<string, string> = { 'webhook-id': ID, 'webhook-timestamp': TS, 'webhook-signature': SIGNATURE };
  for (const [k, v] of Object.entries(over))
    if (v === undefined) delete h[k];
    else h[k] = v;
  return h;
};

describe('standardWebhooksVerifier', () => {
  const verifier = standardWebhooksVerifier({ secrets: [SECRET] });

  it('accepts the reference example and returns its id and timestamp', () => {
    expect(verifier.verify(headers(), BODY, AT)).toEqual({ id: ID, timestampMs: AT });
  });

  it('accepts when any listed v1 signature matches, and with the secret without its prefix', () => {
    const h = headers({ 'webhook-signature': `v2,abc v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= ${SIGNATURE}` });
    expect(verifier.verify(h, BODY, AT).id).toBe(ID);
    expect(standardWebhooksVerifier({ secrets: [SECRET.slice(6)] }).verify(headers(), BODY, AT).id).toBe(ID);
  });

  it('accepts a rotated secret while the old one is still listed', () => {
    const v = standardWebhooksVerifier({ secrets: ['whsec_' + Buffer.alloc(24, 7).toString('base64'), SECRET] });
    expect(v.verify(headers(), BODY, AT).id).toBe(ID);
  });

  it('refuses (401) a changed body, id or timestamp, a wrong secret, and a malformed signature', () => {
    expect(rejection(() => verifier.verify(headers(), Buffer.from('{"test": 2432232315}'), AT)).code).toBe('bad-signature');
    expect(rejection(() => verifier.verify(headers({ 'webhook-id': 'msg_other' }), BODY, AT)).status).toBe(401);
    expect(rejection(() => verifier.verify(headers({ 'webhook-timestamp': '1614265331' }), BODY, AT)).code).toBe('bad-signature');
    const other = standardWebhooksVerifier({ secrets: ['whsec_' + Buffer.alloc(24, 1).toString('base64')] });
    expect(rejection(() => other.verify(headers(), BODY, AT)).status).toBe(401);
    expect(rejection(() => verifier.verify(headers({ 'webhook-signature': 'v1,not base64!' }), BODY, AT)).code).toBe('bad-signature');
    expect(rejection(() => verifier.verify(headers({ 'webhook-signature': SIGNATURE.slice(0, -4) }), BODY, AT)).code).toBe('bad-signature');
  });

  it('refuses (401) a signature that is right but older or newer than the tolerance, and says by how much', () => {
    const old = rejection(() => verifier.verify(headers(), BODY, AT + 301_000));
    expect(old.status).toBe(401);
    expect(old.code).toBe('stale-timestamp');
    expect(old.message).toContain('301 s old; the tolerance is 300 s');
    expect(rejection(() => verifier.verify(headers(), BODY, AT - 301_000)).message).toContain('in the future');
    expect(verifier.verify(headers(), BODY, AT + 300_000).id).toBe(ID);
    expect(standardWebhooksVerifier({ secrets: [SECRET], toleranceSec: 1000 }).verify(headers(), BODY, AT + 900_000).id).toBe(ID);
  });

  it('refuses missing or malformed headers with 400, a missing signature with 401', () => {
    const noId = rejection(() => verifier.verify(headers({ 'webhook-id': undefined }), BODY, AT));
    expect([noId.status, noId.code, noId.message]).toEqual([400, 'missing-header', "header 'webhook-id' is missing"]);
    expect(rejection(() => verifier.verify(headers({ 'webhook-timestamp': 'yesterday' }), BODY, AT)).code).toBe('bad-timestamp');
    expect(rejection(() => verifier.verify(headers({ 'webhook-signature': undefined }), BODY, AT)).status).toBe(401);
    expect(rejection(() => verifier.verify(headers({ 'webhook-id': 'has space' }), BODY, AT)).code).toBe('bad-delivery-id');
    expect(rejection(() => verifier.verify(headers({ 'webhook-id': 'x'.repeat(257) }), BODY, AT)).code).toBe('bad-delivery-id');
  });

  it('a signature made with the same HMAC construction verifies for any id, timestamp and body', () => {
    const key = Buffer.from(SECRET.slice(6), 'base64');
    const body = Buffer.from([0, 1, 2, 255]);
    const sig = createHmac('sha256', key).update(`evt-9.1700000000.`).update(body).digest('base64');
    expect(verifier.verify({ 'webhook-id': 'evt-9', 'webhook-timestamp': '1700000000', 'webhook-signature': `v1,${sig}` }, body, 1_700_000_000_000).id).toBe(
      'evt-9',
    );
  });

  it('refuses bad configuration without showing the secret', () => {
    expect(() => standardWebhooksVerifier({ secrets: [] })).toThrow(InvalidConfigError);
    expect(() => standardWebhooksVerifier({ secrets: ['whsec_not*base64'] })).toThrow(/must be whsec_ followed by base64 \(the value is not shown\)/);
    expect(() => standardWebhooksVerifier({ secrets: ['whsec_not*base64'] })).not.toThrow(/not\*base64/);
    expect(() => standardWebhooksVerifier({ secrets: [SECRET], toleranceSec: 0 })).toThrow(/'toleranceSec' must be a number > 0/);
  });
});
