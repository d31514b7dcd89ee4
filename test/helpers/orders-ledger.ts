import { filter, map } from 'rxjs';
import { actor, defineTopology, msgpackCodec } from '../../src/index.js';
import { microBatch } from '../../operators/index.js';
import {
  EndOfDaySchema,
  LedgerChunkSchema,
  LowStockSchema,
  OrderBatchSummarySchema,
  OrderSchema,
  RejectedEventSchema,
  ReservedEventSchema,
  type LedgerChunk,
  type LowStock,
  type Order,
  type OrderBatchSummary,
  type StockEvent,
} from './orders-ledger-schemas.js';

/**
 * A test topology for the operations commands and the stats endpoint (the former hybrid-orders):
 * the article's three styles on one order stream, in one file and one runtime:
 *
 * - real-time: an actor per SKU reserves stock the moment an order arrives, so two customers
 *   never both get the last unit (exactly-once state and events);
 * - near-real-time: the analytics feed gets one summary per micro-batch (500 orders or 5 s);
 * - batch: finance gets the day's orders when operations says "end of day", read back in chunks
 *   from LMDB (exactly-once lines, whatever crashes in between).
 *
 * `sluice describe` prints each path's guarantee; with `--json`, every
 * subject with its payload JSON Schema (from orders-ledger-schemas.ts, where the payload types are
 * defined once).
 */
export const SUBJECTS = {
  /** In (stream SHOP_ORDERS): `Order`. */
  orders: 'shop.orders.>',
  /** In (stream OPS): any message closes the day's batch. */
  endOfDay: 'ops.end-of-day',
  /** Out (stream SHOP_STOCK_EVENTS): `StockEvent`. */
  stockEvents: 'shop.stock.>',
  /** Out (core NATS): `LowStock`, when a reservation leaves fewer than 3 units. */
  lowStock: 'shop.alerts.low-stock',
  /** Out (stream ANALYTICS): `OrderBatchSummary`, one per micro-batch. */
  analytics: 'analytics.orders.batch',
  /** Out (stream FINANCE): `LedgerChunk`, the day's orders in chunks. */
  ledger: 'finance.ledger.daily',
} as const;

export const STREAMS = {
  orders: 'SHOP_ORDERS',
  ops: 'OPS',
  stockEvents: 'SHOP_STOCK_EVENTS',
  analytics: 'ANALYTICS',
  finance: 'FINANCE',
} as const;

export type { LedgerChunk, LowStock, Order, OrderBatchSummary, StockEvent } from './orders-ledger-schemas.js';

/** Units each SKU starts with (a real system would restock through the same actor). */
export const INITIAL_UNITS = 20;

const stock = actor<{ available: number }, Order>({
  name: 'stock',
  key: (o) => o.data.sku,
  initial: () => ({ available: INITIAL_UNITS }),
  handle: (state, msg, ctx) => {
    if (msg.kind !== 'message') return state;
    const { orderId, sku, quantity } = msg.data;
    if (quantity > state.available) {
      ctx.emit('shop.stock.rejected', { type: 'rejected', orderId, sku, quantity, available: state.available } satisfies StockEvent);
      return state;
    }
    const available = state.available - quantity;
    ctx.emit('shop.stock.reserved', { type: 'reserved', orderId, sku, quantity, available } satisfies StockEvent);
    return { available };
  },
});

export default defineTopology('orders-ledger', (t) => {
  const orders = t.stream<Order>(STREAMS.orders, SUBJECTS.orders, { schema: OrderSchema });

  // Real-time: per-SKU reservations, exactly once; their events feed a low-stock alert.
  const lowStock = t
    .actor(stock, orders, {
      emits: {
        stream: STREAMS.stockEvents,
        subjects: [SUBJECTS.stockEvents],
        schemas: { 'shop.stock.reserved': ReservedEventSchema, 'shop.stock.rejected': RejectedEventSchema },
      },
    })
    .pipe(
      map((e) => e.data as StockEvent),
      filter((e) => e.type === 'reserved' && e.available < 3),
      map((e): LowStock => ({ sku: e.sku, available: e.available })),
      t.sink(SUBJECTS.lowStock, { schema: LowStockSchema }),
    );

  // Near-real-time: one summary per micro-batch, published with an ack before the orders settle.
  const analytics = orders.pipe(
    microBatch({ maxCount: 500, maxWaitMs: 5_000, scheduler: t.scheduler }),
    map((batch): OrderBatchSummary => ({
      orders: batch.length,
      totalCents: batch.reduce((sum, o) => sum + o.data.totalCents, 0),
      firstOrderId: batch[0]!.data.orderId,
      lastOrderId: batch[batch.length - 1]!.data.orderId,
    })),
    t.sink(SUBJECTS.analytics, { durable: true, stream: STREAMS.analytics, schema: OrderBatchSummarySchema }),
  );

  // Batch: the day's orders wait in LMDB until operations closes the day.
  const ledger = t.durableBatch(
    {
      name: 'daily-ledger',
      chunkSize: 1_000,
      emits: { stream: STREAMS.finance, subjects: [SUBJECTS.ledger], schemas: { [SUBJECTS.ledger]: LedgerChunkSchema } },
      flush: (chunk, emit, info) => {
        const lines = chunk.map((r) => {
          const o = msgpackCodec.decode(r.data) as Order;
          return { orderId: o.orderId, totalCents: o.totalCents };
        });
        const chunkOut: LedgerChunk = { batch: info.batchSeq, from: info.from, lines };
        emit(SUBJECTS.ledger, msgpackCodec.encode(chunkOut), { 'Content-Type': msgpackCodec.contentType });
      },
    },
    { values: orders, triggers: t.stream(STREAMS.ops, SUBJECTS.endOfDay, { schema: EndOfDaySchema }) },
  );

  return [lowStock, analytics, ledger];
});
