import {
  actor,
  defineTopology,
  InvalidConfigError,
  msgpackCodec,
  NoRespondersError,
  RequestTimeoutError,
  TerminalError,
  type ActorDefinition,
  type Envelope,
  type RespondFallbackReason,
  type Topology,
} from 'sluice';
import {
  FraudDecisionSchema,
  PaymentCheckSchema,
  PaymentSchema,
  ScoreReplySchema,
  type FraudDecision,
  type Payment,
  type PaymentCheck,
  type Reason,
  type ScoreRequest,
} from './fraud-check-schemas.js';

/**
 * Fraud check: a payment service asks, over plain NATS request/reply, whether a payment may go
 * ahead, and gets `allow`, `review` or `deny` within a deadline. The decision comes from rules
 * over the customer's recent activity — velocity (payments in the last minutes), the amount
 * against the customer's usual, a device or country not seen before — kept as the state of one
 * actor per customer.
 *
 * Two paths, two guarantees:
 * - **Activity (exactly-once).** The payment service publishes each payment it made to
 *   `fraud.activity.payment` (JetStream, stream `FRAUD_ACTIVITY`; `Nats-Msg-Id: <paymentId>` makes
 *   its own re-sends duplicates). `t.actor` folds it into the customer's state: each payment is
 *   applied exactly once, in stream order per customer, across crashes (state, position and
 *   outbox in one LMDB transaction).
 * - **Decision (at-most-once, with a deadline).** `t.respond` answers `fraud.check` from the
 *   committed state (`t.actorState`, an in-process read: no NATS hop). Every request gets one
 *   reply within `deadlineMs`: the rules', else the fallback's (`allow` small amounts, `review`
 *   the rest), with `Sluice-Reply-Outcome: deadline` (or `overloaded`) saying the fallback
 *   answered. A request lost in a crash gets no reply: the requester's timeout decides, as with
 *   any request/reply. Checks change no state: asking twice is harmless.
 * The state a check reads lags the activity stream by the batches not yet committed
 * (milliseconds when the actor keeps up).
 *
 * Subjects (payloads in fraud-check-schemas.ts; JSON or msgpack by `Content-Type`, replies in
 * the request's codec):
 * - `fraud.check` — request `PaymentCheck { paymentId, customerId, amountCents, deviceId,
 *   country }`, reply `FraudDecision { paymentId, decision, reasons, by }`. A request that does
 *   not match gets an error reply (`Nats-Service-Error-Code: 400`) and a dead letter.
 * - `fraud.activity.payment` — in, JetStream: `Payment { paymentId, customerId, amountCents,
 *   deviceId, country, at }`. One that does not match is dead-lettered and skipped.
 * - `fraud.score` — out, optional: when the rules would say `review`, the topology asks this
 *   subject (`{ check, reasons }` → `{ score: 0..1 }`, msgpack) for a second opinion within the
 *   deadline: a score of `denyAtScore` or more denies, under `allowBelowScore` allows. With no
 *   service listening, or an answer that is not `{ score }`, the rules' `review` stands; a slow
 *   one lets the fallback answer.
 * Dead letters: `sluice.dlq.fraud-check` (and `.activity` for the actor), stream
 * `SLUICE_DLQ_fraud-check`.
 */
export const SUBJECTS = {
  check: 'fraud.check',
  payments: 'fraud.activity.payment',
  score: 'fraud.score',
} as const;

/** The activity stream: payments in; the actor keeps its own input stream besides it. */
export const STREAMS = {
  activity: { name: 'FRAUD_ACTIVITY', subjects: [SUBJECTS.payments] },
} as const;

export type { FraudDecision, Payment, PaymentCheck, Reason } from './fraud-check-schemas.js';

/** The rules' thresholds. */
export interface FraudRules {
  /** Velocity window, ms. Default 600000 (10 minutes). */
  velocityWindowMs: number;
  /** Payments in the window at which the next one is denied. Default 5. */
  maxPaymentsInWindow: number;
  /** An amount above this many times the customer's average is unusual. Default 3. */
  amountFactor: number;
  /** ...when it is also above this, cents (small amounts are never unusual). Default 5000. */
  minUnusualCents: number;
  /** A first payment (no activity yet) up to this is allowed, above it reviewed, cents. Default 10000. */
  newCustomerAllowCents: number;
  /** The fallback allows up to this and sends the rest to review, cents. Default 5000. */
  fallbackAllowCents: number;
  /** Distinct devices and countries remembered per customer (most recent). Default 20. */
  maxRemembered: number;
}

export const DEFAULT_RULES: FraudRules = {
  velocityWindowMs: 600_000,
  maxPaymentsInWindow: 5,
  amountFactor: 3,
  minUnusualCents: 5_000,
  newCustomerAllowCents: 10_000,
  fallbackAllowCents: 5_000,
  maxRemembered: 20,
};

/** One customer's recent activity: the actor's state. */
export interface CustomerActivity {
  /** Payments applied, ever. */
  readonly payments: number;
  /** Their sum, cents (with `payments`, the customer's average). */
  readonly totalCents: number;
  /** Payment times (event time, epoch ms) within the velocity window of the newest, oldest first. */
  readonly recent: readonly number[];
  /** Devices and countries seen, most recent last, at most `maxRemembered` each. */
  readonly devices: readonly string[];
  readonly countries: readonly string[];
}

const NO_ACTIVITY: CustomerActivity = { payments: 0, totalCents: 0, recent: [], devices: [], countries: [] };

/** `list` with `value` moved (or added) to the end, at most `max` long. */
const remember = (list: readonly string[], value: string, max: number): string[] => [...list.filter((v) => v !== value), value].slice(-max);

/**
 * The state after one payment. Deterministic (event time `at`, not the clock), so a replay after
 * a crash rebuilds the same state.
 */
export function applyPayment(s: CustomerActivity, p: Payment, rules: FraudRules = DEFAULT_RULES): CustomerActivity {
  const newest = Math.max(p.at, s.recent.at(-1) ?? 0);
  const recent = [...s.recent, p.at].sort((a, b) => a - b).filter((at) => at > newest - rules.velocityWindowMs);
  return {
    payments: s.payments + 1,
    totalCents: s.totalCents + p.amountCents,
    recent: recent.slice(-(rules.maxPaymentsInWindow + 1)),
    devices: remember(s.devices, p.deviceId, rules.maxRemembered),
    countries: remember(s.countries, p.country, rules.maxRemembered),
  };
}

/**
 * The rules: `deny` a velocity burst (`maxPaymentsInWindow` payments within the window before
 * `nowMs`), or an unusual amount from a new device in a new country; `review` any one of those
 * signals, or a first payment above `newCustomerAllowCents`; `allow` the rest.
 */
export function decide(
  check: PaymentCheck,
  s: CustomerActivity,
  nowMs: number,
  rules: FraudRules = DEFAULT_RULES,
): { decision: FraudDecision['decision']; reasons: Reason[] } {
  const inWindow = s.recent.filter((at) => at > nowMs - rules.velocityWindowMs).length;
  if (inWindow >= rules.maxPaymentsInWindow) return { decision: 'deny', reasons: ['velocity'] };
  if (s.payments === 0)
    return check.amountCents <= rules.newCustomerAllowCents ? { decision: 'allow', reasons: [] } : { decision: 'review', reasons: ['new-customer'] };
  const reasons: Reason[] = [];
  if (check.amountCents > rules.minUnusualCents && check.amountCents > rules.amountFactor * (s.totalCents / s.payments)) reasons.push('amount');
  if (!s.devices.includes(check.deviceId)) reasons.push('new-device');
  if (!s.countries.includes(check.country)) reasons.push('new-country');
  if (reasons.length === 3) return { decision: 'deny', reasons };
  return { decision: reasons.length > 0 ? 'review' : 'allow', reasons };
}

/** The fallback's answer when the rules are too slow (or too busy): small amounts go ahead, the rest to review. */
export function fallbackDecision(check: PaymentCheck, reason: RespondFallbackReason, rules: FraudRules = DEFAULT_RULES): FraudDecision {
  return { paymentId: check.paymentId, decision: check.amountCents <= rules.fallbackAllowCents ? 'allow' : 'review', reasons: [reason], by: 'fallback' };
}

/**
 * The activity actor, keyed by customer: folds each payment into {@link CustomerActivity}.
 * Memory: one small object per recently active customer (passivated after 5 idle minutes).
 */
export function customerActivity(rules: FraudRules = DEFAULT_RULES): ActorDefinition<CustomerActivity, Payment> {
  return actor<CustomerActivity, Payment>({
    name: 'activity',
    key: (m) => {
      const id = (m.data as { customerId?: unknown } | null)?.customerId;
      if (typeof id !== 'string' || id.length === 0) throw new TerminalError(`a payment needs a 'customerId', got ${JSON.stringify(m.data)}`);
      return id;
    },
    initial: () => NO_ACTIVITY,
    handle: (s, msg) => (msg.kind === 'message' ? applyPayment(s, msg.data, rules) : s),
    supervision: 'skip',
  });
}

/** Options of {@link fraudCheck}. */
export interface FraudCheckConfig {
  /** Every check is answered within this, ms (the rules', else the fallback's). Default 100. */
  deadlineMs?: number | undefined;
  /** Thresholds; defaults in {@link DEFAULT_RULES}. */
  rules?: Partial<FraudRules> | undefined;
  /** Ask `fraud.score` when the rules say `review`. Default true. */
  score?: boolean | undefined;
  /** A score at or above this denies. Default 0.9. */
  denyAtScore?: number | undefined;
  /** A score below this allows. Default 0.3. */
  allowBelowScore?: number | undefined;
}

/**
 * The fraud-check topology (see {@link SUBJECTS} for its wire contract).
 * @throws InvalidConfigError for a deadline or a threshold out of range.
 */
export function fraudCheck(config: FraudCheckConfig = {}): Topology {
  const rules: FraudRules = { ...DEFAULT_RULES, ...config.rules };
  const deadlineMs = config.deadlineMs ?? 100;
  const denyAtScore = config.denyAtScore ?? 0.9;
  const allowBelowScore = config.allowBelowScore ?? 0.3;
  if (!(deadlineMs > 0)) throw new InvalidConfigError('fraudCheck', 'deadlineMs', `must be > 0, got ${deadlineMs}`);
  for (const [field, v] of Object.entries(rules))
    if (!(typeof v === 'number' && v >= 0)) throw new InvalidConfigError('fraudCheck', `rules.${field}`, `must be a number >= 0, got ${String(v)}`);
  if (!(allowBelowScore <= denyAtScore))
    throw new InvalidConfigError('fraudCheck', 'allowBelowScore', `must be <= denyAtScore (${denyAtScore}), got ${allowBelowScore}`);
  const activity = customerActivity(rules);

  return defineTopology('fraud-check', (t) => {
    // Activity: payments made, folded per customer, exactly once.
    const payments = t.stream<Payment>(STREAMS.activity.name, STREAMS.activity.subjects, { schema: PaymentSchema });
    t.actor(activity, payments);
    const state = t.actorState(activity);

    /** A second opinion on a payment headed for review; the rules' review stands without one. */
    const score = async (check: PaymentCheck, reasons: Reason[]): Promise<FraudDecision> => {
      const review: FraudDecision = { paymentId: check.paymentId, decision: 'review', reasons, by: 'rules' };
      if (config.score === false) return review;
      try {
        const body: ScoreRequest = { check, reasons };
        // The responder's deadline answers a slow score with the fallback; this timeout, later, only ends the request.
        const res = await t.transport.request(SUBJECTS.score, msgpackCodec.encode(body), {
          timeoutMs: 2 * deadlineMs,
          headers: { 'Content-Type': msgpackCodec.contentType },
        });
        const reply = ScoreReplySchema.safeParse(msgpackCodec.decode(res.data));
        if (!reply.success) {
          t.logger.warn(
            { paymentId: check.paymentId, reply: reply.error.message },
            'fraud.score answered something that is not { score: 0..1 }: the rules decide',
          );
          return review;
        }
        const risk = reply.data.score;
        if (risk >= denyAtScore) return { ...review, decision: 'deny', reasons: [...reasons, 'score'], by: 'score' };
        if (risk < allowBelowScore) return { ...review, decision: 'allow', by: 'score' };
        return { ...review, by: 'score' };
      } catch (err) {
        // No scoring service: the rules decide. Too slow: the fallback has answered already.
        if (err instanceof NoRespondersError || err instanceof RequestTimeoutError) return review;
        throw err;
      }
    };

    // Decision: each check from the customer's committed activity, within the deadline.
    t.respond<PaymentCheck, FraudDecision>(
      SUBJECTS.check,
      (req: Envelope<PaymentCheck>) => {
        const check = req.data;
        const answer = (s: CustomerActivity): FraudDecision | Promise<FraudDecision> => {
          const { decision, reasons } = decide(check, s, t.scheduler.now(), rules);
          return decision === 'review' ? score(check, reasons) : { paymentId: check.paymentId, decision, reasons, by: 'rules' };
        };
        // A synchronous read answers at once; only while the actor is starting does the check wait for it.
        const now = state.read(check.customerId);
        return now !== undefined ? answer(now.state) : state.get(check.customerId).then((a) => answer(a.state));
      },
      {
        name: 'check',
        deadlineMs,
        fallback: (req, reason) => fallbackDecision(req.data, reason, rules),
        schema: PaymentCheckSchema,
        replySchema: FraudDecisionSchema,
      },
    );
  });
}

/**
 * `sluice run topologies/fraud-check.ts`: a 100 ms deadline and the default rules, activity state
 * in `$SLUICE_STATE_DIR/fraud-check` (default `./.sluice/state`).
 */
export default fraudCheck();
