import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { connect, headers, type Msg, type NatsConnection } from '@nats-io/transport-node';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryActorState } from '../../src/actors/actor-client.js';
import { msgpackCodec } from '../../src/codec/msgpack-codec.js';
import { RESPOND_HEADERS } from '../../src/runtime/mount-responder.js';
import { runTopology, type RunningTopology } from '../../src/runtime/run-topology.js';
import { NatsTransport } from '../../src/transport/nats/nats-transport.js';
import {
  applyPayment,
  decide,
  DEFAULT_RULES,
  fraudCheck,
  SUBJECTS,
  type CustomerActivity,
  type FraudDecision,
  type Payment,
  type PaymentCheck,
} from '../../topologies/fraud-check.js';
import { startTestDriver } from '../../src/testing/topology-test-driver.js';
import { InvalidConfigError } from '../../src/errors.js';
import { useNatsServer } from '../helpers/nats-server.js';
import { retryUntilOk, until } from '../helpers/until.js';

/*
 * fraud-check over a real nats-server, run as `sluice run` runs it (runTopology on a
 * NatsTransport), asked as a service in any language would: a plain `nc.request()` with a JSON
 * body, and payments published to JetStream with a `Nats-Msg-Id`.
 */

const server = useNatsServer();
const DEADLINE_MS = 300;
const MIN = 60_000;
let nc: NatsConnection;
let js: JetStreamClient;
let transport: NatsTransport;
let run: RunningTopology;
let stateDir: string;

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'sluice-fraud-'));
  transport = await NatsTransport.connect({ servers: server().url });
  run = await runTopology(fraudCheck({ deadlineMs: DEADLINE_MS }), {
    transport,
    stateDir,
    logger: pino({ level: 'silent' }),
    report: () => undefined,
    service: false,
  });
  nc = await connect({ servers: server().url });
  js = jetstream(nc);
});

afterAll(async () => {
  await run?.stop();
  await nc?.close();
  rmSync(stateDir, { recursive: true, force: true });
});

const json = () => {
  const h = headers();
  h.set('Content-Type', 'application/json');
  return h;
};

/** What the payment service does after a payment: publish it to the activity stream, its id as `Nats-Msg-Id`. */
async function paid(p: Payment): Promise<void> {
  await retryUntilOk(() => js.publish(SUBJECTS.payments, JSON.stringify(p), { msgID: p.paymentId, headers: json() }));
}

/** Waits until the customer's activity state has applied `payments` payments. */
async function applied(customerId: string, payments: number): Promise<void> {
  await until(
    async () =>
      (await queryActorState<CustomerActivity>(transport, { topology: 'fraud-check', actor: 'activity' }, customerId, { timeoutMs: 2_000 })).state.payments ===
      payments,
    { what: `${customerId} at ${payments} payments` },
  );
}

/** A plain NATS request, JSON in and out. */
async function check(c: PaymentCheck): Promise<{ reply: FraudDecision; outcome: string | undefined; contentType: string | undefined; ms: number }> {
  const started = performance.now();
  const m: Msg = await nc.request(SUBJECTS.check, JSON.stringify(c), { timeout: 5_000, headers: json() });
  return {
    reply: m.json<FraudDecision>(),
    outcome: m.headers?.get(RESPOND_HEADERS.outcome),
    contentType: m.headers?.get('Content-Type'),
    ms: performance.now() - started,
  };
}

/** A customer with three payments from `dev-1` in NL an hour ago (outside the velocity window), about 25.00 each. */
async function regular(customerId: string): Promise<void> {
  const at = Date.now() - 60 * MIN;
  for (const [i, amountCents] of [2_000, 3_000, 2_500].entries())
    await paid({ paymentId: `${customerId}-h${i}`, customerId, amountCents, deviceId: 'dev-1', country: 'NL', at: at + i * MIN });
  await applied(customerId, 3);
}

const usual = (customerId: string, paymentId: string): PaymentCheck => ({ paymentId, customerId, amountCents: 3_000, deviceId: 'dev-1', country: 'NL' });

describe('fraud-check over NATS: plain request/reply, activity from JetStream', () => {
  it('a known customer paying as usual is allowed by the rules, in JSON', async () => {
    await regular('cust-known');
    const r = await check(usual('cust-known', 'k1'));
    expect(r.reply).toEqual({ paymentId: 'k1', decision: 'allow', reasons: [], by: 'rules' });
    expect(r.outcome).toBe('answered');
    expect(r.contentType).toBe('application/json');
  });

  it('a velocity burst (5 payments in the last 10 minutes) is denied; a re-sent payment (same Nats-Msg-Id) counts once', async () => {
    await regular('cust-burst');
    const now = Date.now();
    for (let i = 0; i < 4; i++)
      await paid({ paymentId: `burst-${i}`, customerId: 'cust-burst', amountCents: 1_000, deviceId: 'dev-1', country: 'NL', at: now - i * MIN });
    await paid({ paymentId: 'burst-0', customerId: 'cust-burst', amountCents: 1_000, deviceId: 'dev-1', country: 'NL', at: now });
    await applied('cust-burst', 7);
    expect((await check(usual('cust-burst', 'b1'))).reply).toMatchObject({ decision: 'allow' });
    await paid({ paymentId: 'burst-4', customerId: 'cust-burst', amountCents: 1_000, deviceId: 'dev-1', country: 'NL', at: now - 4 * MIN });
    await applied('cust-burst', 8);
    expect((await check(usual('cust-burst', 'b2'))).reply).toEqual({ paymentId: 'b2', decision: 'deny', reasons: ['velocity'], by: 'rules' });
  });

  it('a new device or a new country raises the decision to review; both with an unusual amount deny', async () => {
    await regular('cust-travel');
    const r1 = await check({ ...usual('cust-travel', 't1'), deviceId: 'dev-2' });
    expect(r1.reply).toEqual({ paymentId: 't1', decision: 'review', reasons: ['new-device'], by: 'rules' });
    expect((await check({ ...usual('cust-travel', 't2'), country: 'BR' })).reply).toMatchObject({ decision: 'review', reasons: ['new-country'] });
    expect((await check({ ...usual('cust-travel', 't3'), amountCents: 20_000 })).reply).toMatchObject({ decision: 'review', reasons: ['amount'] });
    expect((await check({ paymentId: 't4', customerId: 'cust-travel', amountCents: 20_000, deviceId: 'dev-9', country: 'BR' })).reply).toEqual({
      paymentId: 't4',
      decision: 'deny',
      reasons: ['amount', 'new-device', 'new-country'],
      by: 'rules',
    });
    // A first payment: small ones go ahead, large ones to review.
    expect((await check({ ...usual('cust-new', 'n1'), amountCents: 9_000 })).reply).toMatchObject({ decision: 'allow', reasons: [] });
    expect((await check({ ...usual('cust-new', 'n2'), amountCents: 50_000 })).reply).toMatchObject({ decision: 'review', reasons: ['new-customer'] });
  });

  it('a scoring service turns a review into allow or deny; a slow one lets the fallback answer within the deadline', async () => {
    await regular('cust-scored');
    let delayMs = 0;
    const scorer = await connect({ servers: server().url });
    scorer.subscribe(SUBJECTS.score, {
      callback: (_err, m) => {
        const { check: c } = msgpackCodec.decode(m.data) as { check: PaymentCheck };
        const score = c.amountCents >= 10_000 ? 0.95 : 0.1;
        setTimeout(() => m.respond(msgpackCodec.encode({ score })), delayMs);
      },
    });
    await scorer.flush();
    try {
      expect((await check({ ...usual('cust-scored', 's1'), deviceId: 'dev-2' })).reply).toEqual({
        paymentId: 's1',
        decision: 'allow',
        reasons: ['new-device'],
        by: 'score',
      });
      expect((await check({ ...usual('cust-scored', 's2'), deviceId: 'dev-2', amountCents: 12_000 })).reply).toEqual({
        paymentId: 's2',
        decision: 'deny',
        reasons: ['amount', 'new-device', 'score'],
        by: 'score',
      });
      delayMs = 3_000;
      const small = await check({ ...usual('cust-scored', 's3'), deviceId: 'dev-2' });
      expect(small.reply).toEqual({ paymentId: 's3', decision: 'allow', reasons: ['deadline'], by: 'fallback' });
      expect(small.outcome).toBe('deadline');
      expect(small.ms).toBeGreaterThanOrEqual(DEADLINE_MS - 5);
      expect(small.ms).toBeLessThan(DEADLINE_MS + 1_000);
      const large = await check({ ...usual('cust-scored', 's4'), deviceId: 'dev-2', amountCents: 12_000 });
      expect(large.reply).toEqual({ paymentId: 's4', decision: 'review', reasons: ['deadline'], by: 'fallback' });
      expect(large.outcome).toBe('deadline');
    } finally {
      await scorer.close();
    }
  });

  it('a request that does not match PaymentCheck gets a 400 error reply and a dead letter; the responder carries on', async () => {
    const m = await nc.request(SUBJECTS.check, JSON.stringify({ paymentId: 'x', customerId: 'c', amountCents: -1 }), { timeout: 5_000, headers: json() });
    expect(m.headers?.get(RESPOND_HEADERS.errorCode)).toBe('400');
    expect(m.headers?.get(RESPOND_HEADERS.error)).toMatch(/^PayloadSchemaError: .*amountCents/);
    expect((await check({ ...usual('cust-after', 'a1'), amountCents: 100 })).reply).toMatchObject({ decision: 'allow' });
  });
});

describe('fraud-check rules (property)', () => {
  const payment = (at: number, i: number): Payment => ({ paymentId: `p${i}`, customerId: 'c', amountCents: 1_000, deviceId: 'd', country: 'NL', at });
  // Checks come after the payments they are checked against (now >= every payment's time).
  it('velocity counts the payments inside the window before now, whatever order they arrive in (reference: a count over all of them)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 60 * MIN }), { minLength: 0, maxLength: 30 }), fc.integer({ min: 0, max: 70 * MIN }), (ats, nowOffset) => {
        const now = Math.max(0, ...ats) + nowOffset;
        const state = ats.reduce((s, at, i) => applyPayment(s, payment(at, i), DEFAULT_RULES), {
          payments: 0,
          totalCents: 0,
          recent: [],
          devices: [],
          countries: [],
        } as CustomerActivity);
        const inWindow = ats.filter((at) => at > now - DEFAULT_RULES.velocityWindowMs).length;
        const { decision, reasons } = decide({ paymentId: 'q', customerId: 'c', amountCents: 1_000, deviceId: 'd', country: 'NL' }, state, now, DEFAULT_RULES);
        const expected = inWindow >= DEFAULT_RULES.maxPaymentsInWindow ? 'deny' : 'allow';
        expect({ decision, velocity: reasons.includes('velocity') }).toEqual({ decision: expected, velocity: expected === 'deny' });
        expect(state.payments).toBe(ats.length);
      }),
      { numRuns: Number(process.env['PROP_RUNS'] ?? 200) },
    );
  });
});

describe('fraud-check options (in-process)', () => {
  const review: PaymentCheck = { paymentId: 'r', customerId: 'new', amountCents: 50_000, deviceId: 'd', country: 'NL' };
  const ask = async (score: boolean | undefined, answer: unknown) => {
    const driver = await startTestDriver(fraudCheck({ score, deadlineMs: 5_000 }));
    driver.transport.subscribe(SUBJECTS.score).subscribe((m) => driver.transport.publish(m.reply!, msgpackCodec.encode(answer)));
    const res = await driver.transport.request(SUBJECTS.check, msgpackCodec.encode(review), { timeoutMs: 5_000 });
    await driver.stop();
    return msgpackCodec.decode(res.data) as FraudDecision;
  };

  it('score: false never asks fraud.score; an answer that is not { score } leaves the rules’ review', async () => {
    expect(await ask(undefined, { score: 0.1 })).toMatchObject({ decision: 'allow', by: 'score' });
    expect(await ask(false, { score: 0.1 })).toMatchObject({ decision: 'review', by: 'rules' });
    expect(await ask(undefined, { risk: 'high' })).toMatchObject({ decision: 'review', by: 'rules' });
  });

  it('rejects a deadline or a threshold out of range', () => {
    expect(() => fraudCheck({ deadlineMs: 0 })).toThrow(InvalidConfigError);
    expect(() => fraudCheck({ rules: { maxPaymentsInWindow: -1 } })).toThrow(/rules.maxPaymentsInWindow/);
    expect(() => fraudCheck({ allowBelowScore: 0.95, denyAtScore: 0.9 })).toThrow(/allowBelowScore/);
  });
});
