import { actor, defineTopology, InvalidConfigError, TerminalError, type ActorDefinition, type ActorMessage, type Topology } from 'sluice';
import {
  ContextChangedSchema,
  ContextRequestSchema,
  CustomerContextSchema,
  OrderPlacedSchema,
  PaymentSchema,
  TicketUpdatedSchema,
  type ContextChanged,
  type ContextRequest,
  type CustomerContext,
  type OrderPlaced,
  type Payment,
  type TicketUpdated,
} from './customer-context-schemas.js';

/**
 * Customer context: a materialised view of each customer's recent orders, support tickets and
 * payments, answered at once over request/reply — what a support agent's screen, a chatbot or a
 * fraud check asks before it acts, without querying three systems.
 *
 * Inputs (JetStream, msgpack or JSON; payloads in customer-context-schemas.ts). Publish each with
 * `Nats-Msg-Id` = its business id (`orderId`, ...) so a re-sent event is dropped by the stream:
 * - `sales.orders`     (stream SALES_ORDERS)     `{ orderId, customerId, totalCents, placedAt }`
 * - `support.tickets`  (stream SUPPORT_TICKETS)  `{ ticketId, customerId, status: 'open'|'pending'|'closed', topic, updatedAt }`
 * - `billing.payments` (stream BILLING_PAYMENTS) `{ paymentId, customerId, amountCents, status: 'captured'|'refunded'|'failed', at }`
 *
 * Request (core NATS request/reply, queue group `sluice.customer-context`):
 * - `customer.context.get` `{ customerId }` → the `CustomerContext` (counts, totals, last-seen
 *   times, the last `recentLimit` of each kind, newest first, and `outstandingCents`). A customer
 *   never seen gets the empty view (`version` 0), not an error. The reply is in the request's
 *   encoding (JSON in, JSON out; else msgpack). A request that does not match its schema gets an
 *   error reply (`Nats-Service-Error-Code: 400`) and a dead letter.
 *
 * Output (JetStream, stream CUSTOMER_CONTEXT, exactly once, msgpack):
 * - `customer.context.changed` `{ customerId, version, cause: { kind, id }, lastSeenAt }`, one per
 *   input applied, so caches and screens can refresh.
 *
 * Guarantee: each input is applied to its customer's view exactly once (view, position and change
 * event commit in one LMDB transaction: `t.actor`), and the view does not depend on the order
 * inputs arrive in (lists by event time, see `applyEvent`): the three streams interleave freely,
 * and an input redelivered after a crash lands in its place. Replies come from committed state, so
 * they never show half of a batch, and may lag the streams by what is not yet processed; a reply
 * is at-most-once like any request/reply. An input that does not match its schema goes to
 * `sluice.dlq.customer-context`.
 */
export const SUBJECTS = {
  orders: 'sales.orders',
  tickets: 'support.tickets',
  payments: 'billing.payments',
  get: 'customer.context.get',
  changed: 'customer.context.changed',
} as const;

/** One stream per source system; the change feed in its own stream. */
export const STREAMS = {
  orders: { name: 'SALES_ORDERS', subjects: [SUBJECTS.orders] },
  tickets: { name: 'SUPPORT_TICKETS', subjects: [SUBJECTS.tickets] },
  payments: { name: 'BILLING_PAYMENTS', subjects: [SUBJECTS.payments] },
  changes: { name: 'CUSTOMER_CONTEXT', subjects: [SUBJECTS.changed] },
} as const;

/** The payload schema of every subject (requests and replies of `customer.context.get` by name). */
export const SCHEMAS = {
  [SUBJECTS.orders]: OrderPlacedSchema,
  [SUBJECTS.tickets]: TicketUpdatedSchema,
  [SUBJECTS.payments]: PaymentSchema,
  [SUBJECTS.changed]: ContextChangedSchema,
  request: ContextRequestSchema,
  reply: CustomerContextSchema,
} as const;

export type { ContextChanged, ContextRequest, CustomerContext, OrderPlaced, Payment, TicketUpdated } from './customer-context-schemas.js';

/** An input of the view, by the subject it arrived on. */
export type CustomerEvent = OrderPlaced | TicketUpdated | Payment;

/** The view of a customer never seen. */
export function emptyContext(customerId: string): CustomerContext {
  return {
    customerId,
    version: 0,
    lastSeenAt: null,
    orders: { count: 0, totalCents: 0, lastAt: null, recent: [] },
    tickets: { updates: 0, open: 0, lastAt: null, recent: [] },
    payments: { count: 0, capturedCents: 0, refundedCents: 0, failed: 0, lastAt: null, recent: [] },
    outstandingCents: 0,
  };
}

const later = (a: number | null, b: number): number => (a === null ? b : Math.max(a, b));

/** Newest first: by time, then by id (a total order, so the result never depends on arrival order). */
const newestFirst =
  <E>(time: (e: E) => number, id: (e: E) => string) =>
  (a: E, b: E): number =>
    time(b) - time(a) || (id(b) < id(a) ? -1 : id(b) > id(a) ? 1 : 0);
const byOrder = newestFirst<CustomerContext['orders']['recent'][number]>(
  (o) => o.placedAt,
  (o) => o.orderId,
);
const byPayment = newestFirst<CustomerContext['payments']['recent'][number]>(
  (p) => p.at,
  (p) => p.paymentId,
);
const byTicket = newestFirst<CustomerContext['tickets']['recent'][number]>(
  (t) => t.updatedAt,
  (t) => t.ticketId,
);
const STATUS_RANK = { open: 0, pending: 1, closed: 2 } as const;

/** Whether update `u` supersedes the listed one: a later time; at the same time the further status (open < pending < closed), then the topic. */
function supersedes(u: TicketUpdated, listed: CustomerContext['tickets']['recent'][number]): boolean {
  if (u.updatedAt !== listed.updatedAt) return u.updatedAt > listed.updatedAt;
  if (u.status !== listed.status) return STATUS_RANK[u.status] > STATUS_RANK[listed.status];
  return u.topic > listed.topic;
}

/**
 * The view after one input (pure). `subject` says what the input is. Each list keeps the
 * `recentLimit` newest entries by event time (ties by id), a ticket once with its latest status;
 * last-seen times are the latest event times. So the view depends only on which inputs were
 * applied, never on the order they arrived in: the three streams interleave freely, late events
 * land in their place, and an input redelivered after a crash (handed to the actor after newer
 * ones) gives the same view.
 *
 * @throws TerminalError for a subject that is not one of the inputs.
 */
export function applyEvent(view: CustomerContext, subject: string, event: CustomerEvent, recentLimit: number): CustomerContext {
  const version = view.version + 1;
  switch (subject) {
    case SUBJECTS.orders: {
      const o = event as OrderPlaced;
      const orders = {
        count: view.orders.count + 1,
        totalCents: view.orders.totalCents + o.totalCents,
        lastAt: later(view.orders.lastAt, o.placedAt),
        recent: [...view.orders.recent, { orderId: o.orderId, totalCents: o.totalCents, placedAt: o.placedAt }].sort(byOrder).slice(0, recentLimit),
      };
      return withOutstanding({ ...view, version, lastSeenAt: later(view.lastSeenAt, o.placedAt), orders });
    }
    case SUBJECTS.tickets: {
      const u = event as TicketUpdated;
      const listed = view.tickets.recent.find((r) => r.ticketId === u.ticketId);
      // A ticket not listed is older than every listed one (or new): the sort decides whether it enters.
      const recent =
        listed !== undefined && !supersedes(u, listed)
          ? view.tickets.recent
          : [
              ...view.tickets.recent.filter((r) => r.ticketId !== u.ticketId),
              { ticketId: u.ticketId, status: u.status, topic: u.topic, updatedAt: u.updatedAt },
            ]
              .sort(byTicket)
              .slice(0, recentLimit);
      const tickets = {
        updates: view.tickets.updates + 1,
        open: recent.filter((r) => r.status !== 'closed').length,
        lastAt: later(view.tickets.lastAt, u.updatedAt),
        recent,
      };
      return { ...view, version, lastSeenAt: later(view.lastSeenAt, u.updatedAt), tickets };
    }
    case SUBJECTS.payments: {
      const p = event as Payment;
      const payments = {
        count: view.payments.count + 1,
        capturedCents: view.payments.capturedCents + (p.status === 'captured' ? p.amountCents : 0),
        refundedCents: view.payments.refundedCents + (p.status === 'refunded' ? p.amountCents : 0),
        failed: view.payments.failed + (p.status === 'failed' ? 1 : 0),
        lastAt: later(view.payments.lastAt, p.at),
        recent: [...view.payments.recent, { paymentId: p.paymentId, amountCents: p.amountCents, status: p.status, at: p.at }]
          .sort(byPayment)
          .slice(0, recentLimit),
      };
      return withOutstanding({ ...view, version, lastSeenAt: later(view.lastSeenAt, p.at), payments });
    }
    default:
      throw new TerminalError(`customer-context: not an input subject: '${subject}'`);
  }
}

function withOutstanding(view: CustomerContext): CustomerContext {
  return { ...view, outstandingCents: view.orders.totalCents - view.payments.capturedCents + view.payments.refundedCents };
}

/** What an input names itself in the change feed. */
function causeOf(subject: string, event: CustomerEvent): ContextChanged['cause'] {
  if (subject === SUBJECTS.orders) return { kind: 'order', id: (event as OrderPlaced).orderId };
  if (subject === SUBJECTS.tickets) return { kind: 'ticket', id: (event as TicketUpdated).ticketId };
  return { kind: 'payment', id: (event as Payment).paymentId };
}

/** Options of {@link createCustomerContext}. */
export interface CustomerContextConfig {
  /** Entries kept per list (orders, tickets, payments) in each view. Default 20. */
  recentLimit?: number | undefined;
  /** A reply goes out within this, ms; only a view still starting takes that long (then an error reply). Default 2000. */
  deadlineMs?: number | undefined;
  /** How soon an input whose processor died before settling it is delivered again, ms. Default 30000. */
  ackWaitMs?: number | undefined;
}

/**
 * The view actor, keyed by customer id: one `CustomerContext` per customer in LMDB. Bounded: each
 * view holds at most `recentLimit` entries per list (ids ≤ 256 characters, topics ≤ 200), so a
 * view stays a few KB however long the customer's history; memory holds the recently used views
 * only (passivated after 5 idle minutes).
 */
export function customerContextActor(recentLimit = 20): ActorDefinition<CustomerContext, CustomerEvent> {
  if (!(Number.isInteger(recentLimit) && recentLimit >= 1))
    throw new InvalidConfigError('customerContext', 'recentLimit', `must be an integer >= 1, got ${recentLimit}`);
  return actor<CustomerContext, CustomerEvent>({
    name: 'context',
    key: (m) => m.data.customerId,
    initial: emptyContext,
    supervision: 'skip',
    handle: (view, msg: ActorMessage<CustomerEvent>, ctx) => {
      if (msg.kind !== 'message') return view;
      const next = applyEvent(view, msg.subject, msg.data, recentLimit);
      ctx.emit(SUBJECTS.changed, {
        customerId: ctx.key,
        version: next.version,
        cause: causeOf(msg.subject, msg.data),
        lastSeenAt: next.lastSeenAt!,
      } satisfies ContextChanged);
      return next;
    },
  });
}

/**
 * The customer-context topology: three streams feed the view actor (exactly once), and `customer.context.get` is answered from the view's committed state in this
 * process (`query`, one LMDB read: no hop to another service).
 *
 * @throws InvalidConfigError for a `recentLimit` below 1, a negative `deadlineMs` or an `ackWaitMs` below 1.
 */
export function createCustomerContext(config: CustomerContextConfig = {}): Topology {
  const context = customerContextActor(config.recentLimit ?? 20);
  const deadlineMs = config.deadlineMs ?? 2_000;
  const ackWaitMs = config.ackWaitMs ?? 30_000;
  if (!(deadlineMs >= 0)) throw new InvalidConfigError('customerContext', 'deadlineMs', `must be >= 0, got ${deadlineMs}`);
  if (!(Number.isInteger(ackWaitMs) && ackWaitMs >= 1))
    throw new InvalidConfigError('customerContext', 'ackWaitMs', `must be an integer >= 1, got ${ackWaitMs}`);

  return defineTopology('customer-context', (t) => {
    // Each source is validated at the edge: a message that does not match goes to the dead letters.
    const orders = t.stream<OrderPlaced>(STREAMS.orders.name, STREAMS.orders.subjects, { schema: OrderPlacedSchema, ackWaitMs });
    const tickets = t.stream<TicketUpdated>(STREAMS.tickets.name, STREAMS.tickets.subjects, { schema: TicketUpdatedSchema, ackWaitMs });
    const payments = t.stream<Payment>(STREAMS.payments.name, STREAMS.payments.subjects, { schema: PaymentSchema, ackWaitMs });

    // One view per customer, exactly once; each input emits one change event.
    t.actor<CustomerContext, CustomerEvent>(context, [orders, tickets, payments], {
      emits: { stream: STREAMS.changes.name, subjects: STREAMS.changes.subjects, schemas: { [SUBJECTS.changed]: ContextChangedSchema } },
    });

    // Answered from the committed view at once; an unknown customer gets the empty view.
    const views = t.actorState(context);
    t.respond<ContextRequest, CustomerContext>(SUBJECTS.get, async (req) => (await views.get(req.data.customerId)).state, {
      deadlineMs,
      fallback: () => {
        throw new Error(`customer-context: the view did not answer within ${deadlineMs} ms (still starting?)`);
      },
      schema: ContextRequestSchema,
      replySchema: CustomerContextSchema,
    });
  });
}

/**
 * `sluice run topologies/customer-context.ts`: views of the last 20 of each kind, state in
 * `$SLUICE_STATE_DIR/customer-context` (default `./.sluice/state`).
 */
export default createCustomerContext();
