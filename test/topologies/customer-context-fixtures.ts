import { jetstream } from '@nats-io/jetstream';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/nats-core';
import { msgpackCodec } from '../../src/index.js';
import { SUBJECTS, type CustomerContext, type CustomerEvent, type OrderPlaced, type Payment, type TicketUpdated } from '../../topologies/customer-context.js';
import { mulberry32 } from '../crash/crash-child.js';

/*
 * Inputs and the reference model of topologies/customer-context.ts, shared by its end-to-end
 * test and its crash test. The model is written independently of the topology's fold: each field
 * straight from the list of a customer's inputs.
 */

/** One input as published: subject, `Nats-Msg-Id` and payload. */
export interface PublishedEvent {
  readonly subject: string;
  readonly msgId: string;
  readonly data: CustomerEvent;
}

/**
 * `count` inputs for customers `c-0`..`c-<customers-1>`, mixed over the three subjects (half
 * orders, a quarter each tickets and payments), each ticket id reused a few times so tickets
 * change status; event times wander (late events included).
 */
export function generateCustomerEvents(seed: number, count: number, customers: number): PublishedEvent[] {
  const rnd = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const out: PublishedEvent[] = [];
  const base = 1_760_000_000_000;
  for (let i = 0; i < count; i++) {
    const customerId = `c-${Math.floor(rnd() * customers)}`;
    const at = base + i * 1_000 - Math.floor(rnd() * 5_000); // up to 5 s late
    const r = rnd();
    if (r < 0.5) {
      const data: OrderPlaced = { orderId: `o-${i}`, customerId, totalCents: 100 + Math.floor(rnd() * 20_000), placedAt: at };
      out.push({ subject: SUBJECTS.orders, msgId: data.orderId, data });
    } else if (r < 0.75) {
      const data: TicketUpdated = {
        ticketId: `t-${customerId}-${Math.floor(rnd() * 30)}`,
        customerId,
        status: pick(['open', 'pending', 'closed'] as const),
        topic: pick(['delivery', 'refund', 'login', 'invoice']),
        updatedAt: at,
      };
      out.push({ subject: SUBJECTS.tickets, msgId: `tu-${i}`, data });
    } else {
      const data: Payment = {
        paymentId: `p-${i}`,
        customerId,
        amountCents: 100 + Math.floor(rnd() * 15_000),
        status: pick(['captured', 'captured', 'refunded', 'failed'] as const),
        at,
      };
      out.push({ subject: SUBJECTS.payments, msgId: data.paymentId, data });
    }
  }
  return out;
}

/** Publishes the inputs in order (msgpack, `Nats-Msg-Id` set), a window of 500 acks at a time. */
export async function publishEvents(nc: NatsConnection, events: readonly PublishedEvent[]): Promise<void> {
  const js = jetstream(nc);
  for (let i = 0; i < events.length; i += 500) {
    await Promise.all(
      events.slice(i, i + 500).map((e) => {
        const h = natsHeaders();
        h.set('Content-Type', msgpackCodec.contentType);
        return js.publish(e.subject, msgpackCodec.encode(e.data), { msgID: e.msgId, headers: h });
      }),
    );
  }
}

const maxOrNull = (xs: readonly number[]): number | null => (xs.length === 0 ? null : Math.max(...xs));
/** Newest first by event time, ties by id descending. */
const newest = <E>(xs: readonly E[], time: (e: E) => number, id: (e: E) => string): E[] =>
  [...xs].sort((a, b) => time(b) - time(a) || (id(b) < id(a) ? -1 : id(b) > id(a) ? 1 : 0));
const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/** What the view of `customerId` must be after `events` (all customers' inputs, in publish order). */
export function referenceContext(customerId: string, events: readonly PublishedEvent[], recentLimit: number): CustomerContext {
  const mine = events.filter((e) => e.data.customerId === customerId);
  const orders = mine.filter((e) => e.subject === SUBJECTS.orders).map((e) => e.data as OrderPlaced);
  const updates = mine.filter((e) => e.subject === SUBJECTS.tickets).map((e) => e.data as TicketUpdated);
  const payments = mine.filter((e) => e.subject === SUBJECTS.payments).map((e) => e.data as Payment);
  // Tickets: each once with its latest update (time, then status open < pending < closed, then topic); the newest N of those.
  const rank = { open: 0, pending: 1, closed: 2 } as const;
  const latest = new Map<string, TicketUpdated>();
  for (const u of updates) {
    const l = latest.get(u.ticketId);
    const newer =
      l === undefined ||
      u.updatedAt > l.updatedAt ||
      (u.updatedAt === l.updatedAt && (rank[u.status] > rank[l.status] || (u.status === l.status && u.topic > l.topic)));
    if (newer) latest.set(u.ticketId, u);
  }
  const tickets = newest(
    [...latest.values()],
    (t) => t.updatedAt,
    (t) => t.ticketId,
  ).slice(0, recentLimit);
  const captured = sum(payments.filter((p) => p.status === 'captured').map((p) => p.amountCents));
  const refunded = sum(payments.filter((p) => p.status === 'refunded').map((p) => p.amountCents));
  const totalCents = sum(orders.map((o) => o.totalCents));
  const times = [...orders.map((o) => o.placedAt), ...updates.map((u) => u.updatedAt), ...payments.map((p) => p.at)];
  return {
    customerId,
    version: mine.length,
    lastSeenAt: maxOrNull(times),
    orders: {
      count: orders.length,
      totalCents,
      lastAt: maxOrNull(orders.map((o) => o.placedAt)),
      recent: newest(
        orders,
        (o) => o.placedAt,
        (o) => o.orderId,
      )
        .slice(0, recentLimit)
        .map((o) => ({ orderId: o.orderId, totalCents: o.totalCents, placedAt: o.placedAt })),
    },
    tickets: {
      updates: updates.length,
      open: tickets.filter((t) => t.status !== 'closed').length,
      lastAt: maxOrNull(updates.map((u) => u.updatedAt)),
      recent: tickets.map((t) => ({ ticketId: t.ticketId, status: t.status, topic: t.topic, updatedAt: t.updatedAt })),
    },
    payments: {
      count: payments.length,
      capturedCents: captured,
      refundedCents: refunded,
      failed: payments.filter((p) => p.status === 'failed').length,
      lastAt: maxOrNull(payments.map((p) => p.at)),
      recent: newest(
        payments,
        (p) => p.at,
        (p) => p.paymentId,
      )
        .slice(0, recentLimit)
        .map((p) => ({ paymentId: p.paymentId, amountCents: p.amountCents, status: p.status, at: p.at })),
    },
    outstandingCents: totalCents - captured + refunded,
  };
}
