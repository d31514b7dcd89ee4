import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeDeadLetter, describeTopology, formatTopologyDescription, msgpackCodec, NatsTransport, runTopology } from '../../src/index.js';
import customerContextTopology, {
  applyEvent,
  createCustomerContext,
  emptyContext,
  SUBJECTS,
  type ContextChanged,
  type CustomerContext,
} from '../../topologies/customer-context.js';
import { useNatsServer } from '../helpers/nats-server.js';
import { readStreamDecoded } from '../helpers/read-stream.js';
import { retryUntilOk, until } from '../helpers/until.js';
import { mulberry32 } from '../crash/crash-child.js';
import { generateCustomerEvents, publishEvents, referenceContext, type PublishedEvent } from './customer-context-fixtures.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('customer-context: the view fold', () => {
  it('matches the reference model for any mix of inputs, in any arrival order (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.integer({ min: 0, max: 120 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (seed, count, customers, recentLimit, shuffleSeed) => {
          const events = generateCustomerEvents(seed, count, customers);
          // Arrival order is any interleaving: three streams, and redeliveries after a crash.
          const rnd = mulberry32(shuffleSeed);
          const arrival = events
            .map((e) => ({ e, r: rnd() }))
            .sort((a, b) => a.r - b.r)
            .map((x) => x.e);
          const views = new Map<string, CustomerContext>();
          for (const e of arrival)
            views.set(e.data.customerId, applyEvent(views.get(e.data.customerId) ?? emptyContext(e.data.customerId), e.subject, e.data, recentLimit));
          for (let c = 0; c < customers; c++) {
            const id = `c-${c}`;
            const view = views.get(id) ?? emptyContext(id);
            expect(view).toEqual(referenceContext(id, events, recentLimit));
            // Bounded whatever the history.
            for (const list of [view.orders.recent, view.tickets.recent, view.payments.recent]) expect(list.length).toBeLessThanOrEqual(recentLimit);
          }
        },
      ),
      { numRuns: Number(process.env.PROP_RUNS ?? 100) },
    );
  });

  it('describe: each input stream reaches the actor exactly once; the change feed is exactly-once; the request is listed', () => {
    const text = formatTopologyDescription(describeTopology(customerContextTopology));
    for (const s of ['SALES_ORDERS (sales.orders)', 'SUPPORT_TICKETS (support.tickets)', 'BILLING_PAYMENTS (billing.payments)']) {
      expect(text).toContain(`${s} -> sluice.actor.customer-context.context.*.tell  exactly-once`);
    }
    expect(text).toContain('actor context -> customer.context.changed  exactly-once');
    expect(text).toContain('request  customer.context.get');
  });
});

const server = useNatsServer();

/** A plain NATS request (another service's view of the topology), JSON or msgpack. */
async function requestContext(
  nc: NatsConnection,
  customerId: unknown,
  encoding: 'json' | 'msgpack' = 'json',
): Promise<{ view: CustomerContext | undefined; headers: Record<string, string> }> {
  const h = natsHeaders();
  h.set('Content-Type', encoding === 'json' ? 'application/json' : msgpackCodec.contentType);
  const body = encoding === 'json' ? JSON.stringify({ customerId }) : msgpackCodec.encode({ customerId });
  const m = await nc.request(SUBJECTS.get, body, { timeout: 2_000, headers: h });
  const headers = Object.fromEntries([...(m.headers?.keys() ?? [])].map((k) => [k, m.headers!.get(k)]));
  if (m.data.length === 0) return { view: undefined, headers };
  return { view: (encoding === 'json' ? JSON.parse(new TextDecoder().decode(m.data)) : msgpackCodec.decode(m.data)) as CustomerContext, headers };
}

describe('customer-context over a real nats-server', () => {
  it("answers each customer's view at once over plain request/reply: counts, totals, recency, bounded lists, per-key order; unknown customer empty; bad input dead-lettered", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'sluice-context-'));
    dirs.push(stateDir);
    const recentLimit = 5;
    const transport = await NatsTransport.connect({ servers: server().url });
    const run = await runTopology(createCustomerContext({ recentLimit, ackWaitMs: 2_000 }), {
      transport,
      stateDir,
      logger: pino({ level: 'silent' }),
      report: () => undefined,
      closeTransport: false,
      service: false,
    });
    const nc = await connect({ servers: server().url });
    try {
      // 600 inputs for 6 customers over the three streams, in one publish order.
      const events = generateCustomerEvents(7, 600, 6);
      await retryUntilOk(() => publishEvents(nc, events.slice(0, 1)));
      await publishEvents(nc, events.slice(1));
      // Bad input: not an order. Dead-lettered at the edge; no view counts it.
      const h = natsHeaders();
      h.set('Content-Type', 'application/json');
      await jetstream(nc).publish(SUBJECTS.orders, JSON.stringify({ orderId: 'bad', customerId: 'c-0', totalCents: -5 }), { headers: h, msgID: 'bad' });

      const customers = Array.from({ length: 6 }, (_, i) => `c-${i}`);
      const expected = new Map(customers.map((c) => [c, referenceContext(c, events, recentLimit)]));
      await until(
        async () => {
          for (const c of customers) if ((await requestContext(nc, c).catch(() => undefined))?.view?.version !== expected.get(c)!.version) return false;
          return true;
        },
        { what: 'every view caught up', timeoutMs: 30_000 },
      );
      for (const c of customers) {
        const { view, headers } = await requestContext(nc, c);
        expect(view).toEqual(expected.get(c));
        expect(headers['Sluice-Reply-Outcome']).toBe('answered');
        // Bounded, newest first by event time.
        expect(view!.orders.recent).toHaveLength(Math.min(recentLimit, view!.orders.count));
        const times = view!.orders.recent.map((o) => o.placedAt);
        expect(times).toEqual([...times].sort((a, b) => b - a));
      }
      expect((await requestContext(nc, 'c-1', 'msgpack')).view).toEqual(expected.get('c-1'));
      // A customer never seen: the empty view, not an error.
      expect((await requestContext(nc, 'nobody')).view).toEqual(emptyContext('nobody'));
      // A request without a customer id: an error reply naming the field.
      const bad = await requestContext(nc, 42);
      expect(bad.view).toBeUndefined();
      expect(bad.headers['Nats-Service-Error-Code']).toBe('400');
      expect(bad.headers['Nats-Service-Error']).toContain('customerId');

      // The change feed: one event per input, versions 1..n per customer (published just after each commit).
      await until(async () => (await transport.streamState('CUSTOMER_CONTEXT')).messages >= events.length, { what: 'every change event published' });
      const changes = await readStreamDecoded(nc, 'CUSTOMER_CONTEXT', (m) => msgpackCodec.decode(m.data) as ContextChanged);
      expect(changes).toHaveLength(events.length);
      for (const c of customers) {
        expect(changes.filter((e) => e.customerId === c).map((e) => e.version)).toEqual(Array.from({ length: expected.get(c)!.version }, (_, i) => i + 1));
      }
      expect(new Set(changes.map((e) => e.cause.id))).toEqual(new Set(events.map(causeId)));
      // Per-key order: a customer's inputs from one stream were applied in that stream's order.
      for (const c of customers) {
        for (const subject of [SUBJECTS.orders, SUBJECTS.tickets, SUBJECTS.payments]) {
          const published = events.filter((e) => e.data.customerId === c && e.subject === subject).map(causeId);
          const applied = changes.filter((e) => e.customerId === c && e.cause.kind === KIND[subject]).map((e) => e.cause.id);
          expect(applied).toEqual(published);
        }
      }
      const dlq = await readStreamDecoded(nc, 'SLUICE_DLQ_customer-context', (m) => decodeDeadLetter(m.data));
      // The bad order, and the bad request (a responder dead-letters what it cannot answer).
      expect(dlq.map((d) => [d.subject, d.error.name])).toEqual([
        [SUBJECTS.orders, 'PayloadSchemaError'],
        [SUBJECTS.get, 'PayloadSchemaError'],
      ]);
    } finally {
      await run.stop();
      await nc.close();
      await transport.close();
    }
  }, 60_000);
});

const KIND = { [SUBJECTS.orders]: 'order', [SUBJECTS.tickets]: 'ticket', [SUBJECTS.payments]: 'payment' } as const;

function causeId(e: PublishedEvent): string {
  const d = e.data as { orderId?: string; ticketId?: string; paymentId?: string };
  return d.orderId ?? d.ticketId ?? d.paymentId!;
}
