import { connect, headers } from '@nats-io/transport-node';
import { applyPayment, decide, DEFAULT_RULES, type CustomerActivity, type FraudDecision, type Payment } from '../../topologies/fraud-check.js';
import { PaymentCheckSchema } from '../../topologies/fraud-check-schemas.js';
import { type ModeFactory, natsCounters } from './mode.js';

const EMPTY: CustomerActivity = { payments: 0, totalCents: 0, recent: [], devices: [], countries: [] };

/**
 * The hand-written baseline of the fraud-check bench: a raw nats.js v3 responder doing the same
 * rule work as topologies/fraud-check.ts — JSON decode, the same zod request check, fraud-check's
 * own `decide` over the customer's activity, a JSON reply — with the activity in an in-memory
 * Map (fed by a core subscription to `fraud.activity.payment`: nothing durable, nothing
 * exactly-once). It answers requests on `ctx.inSubject`.
 */
export const start: ModeFactory = async (ctx) => {
  const nc = await connect({ servers: ctx.url, name: 'bench-fraud-check-raw', noAsyncTraces: true });
  const activity = new Map<string, CustomerActivity>();
  nc.subscribe('fraud.activity.payment', {
    callback: (err, m) => {
      if (err !== null) return;
      const p = m.json<Payment>();
      activity.set(p.customerId, applyPayment(activity.get(p.customerId) ?? EMPTY, p, DEFAULT_RULES));
    },
  });
  const replyHeaders = headers();
  replyHeaders.set('Content-Type', 'application/json');
  nc.subscribe(ctx.inSubject, {
    queue: 'raw-fraud-check',
    callback: (err, m) => {
      if (err !== null) return;
      const parsed = PaymentCheckSchema.safeParse(m.json());
      if (!parsed.success) {
        const h = headers(400, 'bad request');
        m.respond(new Uint8Array(0), { headers: h });
        return;
      }
      const check = parsed.data;
      const { decision, reasons } = decide(check, activity.get(check.customerId) ?? EMPTY, Date.now(), DEFAULT_RULES);
      const reply: FraudDecision = { paymentId: check.paymentId, decision, reasons, by: 'rules' };
      m.respond(JSON.stringify(reply), { headers: replyHeaders });
    },
  });
  await nc.flush();
  return {
    counters: natsCounters(nc),
    stop: async () => {
      await nc.drain();
    },
  };
};
