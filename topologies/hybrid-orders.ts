import { concat, defer, filter, ignoreElements, map, mergeMap, Observable, EMPTY, of } from 'rxjs';
import { actor, defineTopology, InvalidConfigError, msgpackCodec, type Envelope, type Topology, type TopologyContext } from 'sluice';
import { fileLines, microBatch, settleMap } from 'sluice/operators';
import {
  CarrierLineSchema,
  EndOfDaySchema,
  FileReceivedSchema,
  OrderBatchSummarySchema,
  OrderSchema,
  OrderStatusChangedSchema,
  OrderStatusRejectedSchema,
  OrderUpdateSchema,
  PreferenceChangeSchema,
  PreferenceSyncChunkSchema,
  ScheduledEndOfDaySchema,
  type FileReceived,
  type Order,
  type OrderBatchSummary,
  type OrderStatus,
  type OrderStatusChanged,
  type OrderStatusRejected,
  type OrderUpdate,
  type PreferenceChange,
  type PreferenceSyncChunk,
  type ScheduledEndOfDay,
} from './hybrid-orders-schemas.js';

/**
 * The article's mix in one topology: real-time for the 20% of data that matters most, batches
 * for the rest, each part with the guarantee it needs.
 *
 * 1. Real-time — order status: an actor per order follows placed → paid → shipped → delivered
 *    (or cancelled) as the events arrive and announces each change once (exactly-once state and
 *    events), so support sees an order's status within seconds.
 * 2. Near-real-time — analytics: orders in small batches (1000 orders or 5 s, whichever first),
 *    one summary per batch (at-least-once: a crash can cut a batch again).
 * 3. Batch — customer preferences: changes accumulate in LMDB and are synced to the CRM in one
 *    nightly batch at 02:00 London time, or earlier when operations says "end of day" (exactly
 *    once, read back in chunks).
 * 4. Event-triggered batch — a "file received" event starts the import of a carrier's delivery
 *    file: its lines become order updates (exactly once), which part 1 then applies.
 *
 * Every subject and payload is in SUBJECTS and hybrid-orders-schemas.ts; `sluice describe
 * topologies/hybrid-orders.ts` prints each path's guarantee. Bad input (a payload that fails its
 * schema, a bad line in a file, a file that is not there) goes to `sluice.dlq.hybrid-orders`.
 */
export const SUBJECTS = {
  /** In (stream SHOP_ORDERS): `Order`, on `shop.orders.<channel>` (the shop's one order, as order-routing reads it). */
  orders: 'shop.orders.*',
  /** In (stream SHOP_ORDERS): `OrderUpdate`, on `shop.order-updates.<status>`, from payments, the warehouse, and part 4. */
  updates: 'shop.order-updates.*',
  /** Out (stream ORDER_STATUS): `OrderStatusChanged` on `shop.order-status.<status>`, `OrderStatusRejected` on `shop.order-status.rejected`. */
  status: 'shop.order-status.>',
  /** Out (stream ANALYTICS): `OrderBatchSummary`, one per micro-batch. */
  analytics: 'analytics.orders.batch',
  /** In (stream CRM_PREFERENCES): `PreferenceChange`. */
  preferences: 'crm.preferences.changed',
  /** In (stream OPS): any message closes the open preference batch; the 02:00 schedule publishes one too. */
  endOfDay: 'ops.end-of-day',
  /** In (stream OPS): `FileReceived`, a file in the inbox to import. */
  fileReceived: 'ops.files.received',
  /** Out (stream CRM_SYNC): `PreferenceSyncChunk`, the night's changes in chunks. */
  preferenceSync: 'crm.preferences.nightly',
} as const;

export const STREAMS = {
  orders: 'SHOP_ORDERS',
  status: 'ORDER_STATUS',
  analytics: 'ANALYTICS',
  preferences: 'CRM_PREFERENCES',
  ops: 'OPS',
  crmSync: 'CRM_SYNC',
} as const;

export type * from './hybrid-orders-schemas.js';

/** When the preference batch closes by itself: 02:00 every day, London time (DST-correct). */
export const NIGHTLY = { cron: '0 2 * * *', tz: 'Europe/London' } as const;

/** A delivered or cancelled order's status is kept this long (so late updates are rejected), then forgotten. */
export const FORGET_AFTER_MS = 30 * 24 * 3600_000;

const RANK: Record<OrderStatus | 'none', number> = { none: 0, placed: 1, paid: 2, shipped: 3, delivered: 4, cancelled: 4 };

interface Tracked {
  status: OrderStatus | 'none';
  customerId: string;
}

/** Whether `next` follows from `current`: forward only, cancel before shipping, nothing after the end. */
function follows(current: Tracked['status'], next: OrderStatus): boolean {
  if (current === 'delivered' || current === 'cancelled') return false;
  if (next === 'cancelled') return current !== 'shipped';
  return RANK[next] > RANK[current];
}

const orderStatus = actor<Tracked, Order | OrderUpdate>({
  name: 'order-status',
  key: (e) => e.data.orderId,
  initial: () => ({ status: 'none', customerId: '' }),
  handle: (state, msg, ctx) => {
    if (msg.kind === 'timer') {
      ctx.clearState();
      return state;
    }
    const data = msg.data;
    // An update can come before its order (another service was faster): the order then only fills in the customer.
    const update = 'lines' in data ? { orderId: data.orderId, status: 'placed' as const, at: data.placedAt, source: 'shop' } : data;
    if ('lines' in data && state.status !== 'none') return { ...state, customerId: data.customerId };
    const customerId = 'lines' in data ? data.customerId : state.customerId;
    if (!follows(state.status, update.status)) {
      ctx.emit('shop.order-status.rejected', {
        orderId: update.orderId,
        status: update.status,
        current: state.status,
        at: update.at,
      } satisfies OrderStatusRejected);
      return state;
    }
    const changed: OrderStatusChanged = {
      orderId: update.orderId,
      customerId,
      status: update.status,
      previous: state.status,
      at: update.at,
      source: update.source ?? 'unknown',
    };
    ctx.emit(`shop.order-status.${update.status}`, changed);
    if (update.status === 'delivered' || update.status === 'cancelled') ctx.setTimer('forget', { afterMs: FORGET_AFTER_MS });
    return { status: update.status, customerId };
  },
});

/** Where files named by `ops.files.received` are read from, unless configured. */
export const DEFAULT_INBOX_DIR = '.sluice/inbox';

/** A line of a carrier file that is not an `OrderUpdate`: dead-lettered with its bytes, and the import goes on. */
export class CarrierLineError extends Error {
  override readonly name = 'CarrierLineError';
  constructor(
    readonly file: string,
    readonly line: number,
    detail: string,
  ) {
    super(`${file} line ${line}: ${detail}`);
  }
}

/** Options of {@link createHybridOrders}. */
export interface HybridOrdersConfig {
  /** Where files named by `ops.files.received` are read from. Default {@link DEFAULT_INBOX_DIR}. */
  inboxDir?: string | undefined;
}

/**
 * The hybrid-orders topology. Memory: the order-status actor keeps recently used orders (state
 * in LMDB); a micro-batch holds at most 1000 orders; the preference batch lives in LMDB; a
 * carrier file is read line by line.
 *
 * @throws InvalidConfigError for an empty `inboxDir`.
 */
export function createHybridOrders(config: HybridOrdersConfig = {}): Topology {
  const inboxDir = config.inboxDir ?? DEFAULT_INBOX_DIR;
  if (typeof inboxDir !== 'string' || inboxDir === '')
    throw new InvalidConfigError('hybridOrders', 'inboxDir', `must be a directory path, got ${JSON.stringify(inboxDir)}`);

  return defineTopology('hybrid-orders', (t) => {
    // Orders and their updates in one stream: an order's events reach its actor in the order they were published.
    const shop = t.stream<Order | OrderUpdate>(STREAMS.orders, [SUBJECTS.orders, SUBJECTS.updates], { schema: OrderSchema.or(OrderUpdateSchema) });

    // 1. Real-time: one actor per order, exactly once from the stream to its status events.
    const status = t.actor(orderStatus, shop, {
      emits: {
        stream: STREAMS.status,
        subjects: [SUBJECTS.status],
        schemas: {
          ...Object.fromEntries(
            (['placed', 'paid', 'shipped', 'delivered', 'cancelled'] as const).map((s) => [`shop.order-status.${s}`, OrderStatusChangedSchema] as const),
          ),
          'shop.order-status.rejected': OrderStatusRejectedSchema,
        },
      },
    });

    // 2. Near-real-time: a summary per small batch of orders, published with an ack before the orders settle.
    const analytics = concat(
      ensureStream(t, STREAMS.analytics, SUBJECTS.analytics),
      shop.pipe(
        filter((e): e is Envelope<Order> => 'lines' in e.data),
        microBatch({ maxCount: 1000, maxWaitMs: 5_000, scheduler: t.scheduler }),
        map(summarise),
        t.sink(SUBJECTS.analytics, { durable: true, stream: STREAMS.analytics, schema: OrderBatchSummarySchema }),
      ),
    );

    // 3. Batch: the 02:00 schedule says "end of day" on the same subject operations uses, and
    //    that closes the preference batch (read from the batch's own stream, so the cut is the
    //    same on every replay).
    const opsSubjects = [SUBJECTS.endOfDay, SUBJECTS.fileReceived];
    const nightly = t.schedule('nightly-preferences', NIGHTLY.cron, { tz: NIGHTLY.tz, catchUp: 'once' }).pipe(
      map((run): ScheduledEndOfDay => ({ by: 'schedule', scheduledAt: run.data.scheduledAt })),
      t.sink(SUBJECTS.endOfDay, { durable: true, stream: STREAMS.ops, name: 'nightly-close', schema: ScheduledEndOfDaySchema }),
    );
    const preferenceSync = t.durableBatch(
      {
        name: 'nightly-preferences',
        emits: { stream: STREAMS.crmSync, subjects: [SUBJECTS.preferenceSync], schemas: { [SUBJECTS.preferenceSync]: PreferenceSyncChunkSchema } },
        flush: (chunk, emit, info) => {
          // Merged per customer within the chunk (later wins); chunks go out in order, so applying them in order gives the night's end state.
          const customers = new Map<string, PreferenceSyncChunk['customers'][number]>();
          for (const r of chunk) {
            const { changedAt: _at, ...change } = msgpackCodec.decode(r.data) as PreferenceChange;
            customers.set(change.customerId, { ...customers.get(change.customerId), ...change });
          }
          const out: PreferenceSyncChunk = { batch: info.batchSeq, from: info.from, changes: chunk.length, customers: [...customers.values()] };
          emit(SUBJECTS.preferenceSync, msgpackCodec.encode(out), { 'Content-Type': msgpackCodec.contentType });
        },
      },
      {
        values: t.stream(STREAMS.preferences, SUBJECTS.preferences, { schema: PreferenceChangeSchema }),
        triggers: t.stream(STREAMS.ops, opsSubjects, { filterSubject: SUBJECTS.endOfDay, schema: EndOfDaySchema }),
      },
    );

    // 4. Event-triggered batch: "file received" → the file's lines become order updates, with
    //    ids from the event's stream position, so a re-import after a crash is dropped as a duplicate.
    const carrierImport = t.stream<FileReceived>(STREAMS.ops, opsSubjects, { filterSubject: SUBJECTS.fileReceived, schema: FileReceivedSchema }).pipe(
      settleMap({ name: 'carrier-import', project: (e) => readCarrierFile(t, e, inboxDir) }),
      t.sink((e: Envelope<OrderUpdate>) => `shop.order-updates.${e.data.status}`, {
        durable: true,
        name: 'carrier-import',
        stream: STREAMS.orders,
        subjects: [SUBJECTS.updates],
        schema: OrderUpdateSchema,
      }),
    );

    return [status, analytics, nightly, preferenceSync, carrierImport];
  });
}

function summarise(batch: readonly Envelope<Order>[]): OrderBatchSummary {
  const revenueCents: Record<string, number> = {};
  const byChannel: Record<string, number> = {};
  for (const { data: o } of batch) {
    revenueCents[o.currency] = (revenueCents[o.currency] ?? 0) + o.totalCents;
    byChannel[o.channel] = (byChannel[o.channel] ?? 0) + 1;
  }
  const placed = batch.map((e) => e.data.placedAt);
  return { orders: batch.length, revenueCents, byChannel, firstPlacedAt: Math.min(...placed), lastPlacedAt: Math.max(...placed) };
}

/** Creates the stream a durable sink publishes to (it must exist before the first publish). */
function ensureStream(t: TopologyContext, name: string, subject: string): Observable<never> {
  return defer(() => t.transport.ensureStream({ name, subjects: [subject] })).pipe(ignoreElements());
}

/**
 * The file's lines as order updates, in file order (so their output ids are the same on every
 * re-import). A line that is not an `OrderUpdate` is dead-lettered with its line number and the
 * import goes on; a missing file fails the event (dead-lettered by settleMap).
 */
function readCarrierFile(t: TopologyContext, event: Envelope<FileReceived>, inboxDir: string): Observable<Envelope<OrderUpdate>> {
  return fileLines({ dir: inboxDir, path: event.data.name }).pipe(
    mergeMap(({ line: n, text }) => {
      const line = { ...event, subject: `${event.subject}.line`, data: text, raw: new TextEncoder().encode(text) };
      let parsed: ReturnType<typeof CarrierLineSchema.safeParse>;
      try {
        parsed = CarrierLineSchema.safeParse(JSON.parse(text));
      } catch (err) {
        t.deadLetter(line, new CarrierLineError(event.data.name, n, `not JSON (${(err as Error).message})`), 'carrier-import');
        return EMPTY;
      }
      if (!parsed.success) {
        const reason = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
        t.deadLetter(line, new CarrierLineError(event.data.name, n, reason), 'carrier-import');
        return EMPTY;
      }
      return of({ ...event, data: { ...parsed.data, source: `carrier-file:${event.data.name}` } });
    }),
  );
}

/** Reads `HYBRID_ORDERS_INBOX` (optional). */
export function hybridOrdersConfigFromEnv(env: Readonly<Record<string, string | undefined>>): HybridOrdersConfig {
  return { inboxDir: env.HYBRID_ORDERS_INBOX || undefined };
}

export default createHybridOrders(hybridOrdersConfigFromEnv(process.env));
