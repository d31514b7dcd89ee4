import {
  actor,
  checkPayload,
  defineTopology,
  InvalidConfigError,
  queryActorState,
  TerminalError,
  type ActorContext,
  type ActorDefinition,
  type Envelope,
  type PayloadSchema,
  type Topology,
} from 'sluice';
import {
  CancelSchema,
  ConfirmSchema,
  LowStockSchema,
  RejectedSchema,
  ReleasedSchema,
  ReserveSchema,
  ReservedSchema,
  RestockSchema,
  SoldSchema,
  StockAnswerSchema,
  StockQuerySchema,
  type Cancel,
  type Confirm,
  type LowStock,
  type Rejected,
  type Released,
  type Reserve,
  type Reserved,
  type Restock,
  type Sold,
  type StockAnswer,
  type StockCommand,
  type StockLevel,
  type StockQuery,
} from './inventory-schemas.js';

/**
 * Inventory, the article's e-commerce case: a customer must not be able to buy the last unit
 * while another customer's order sits in a queue. One `stock` actor per SKU holds its stock; a
 * reservation takes units at once (commands of one SKU are handled one at a time in stream order,
 * so two orders never both get the last unit), a durable timer releases the hold after `holdMs`
 * unless the order is confirmed, and any service can ask for a SKU's stock over plain NATS
 * request/reply. The payloads are zod schemas in inventory-schemas.ts.
 *
 * Inputs (JetStream, stream `SHOP_STOCK`; msgpack or JSON):
 * - `shop.stock.reserve`  `{ orderId, sku, quantity }` — hold units for an order. To get the
 *   answer back (`{ ok, available }`), send it with `askActor` to the SKU's `.tell` subject
 *   instead; a told command names itself in `op` (`'reserve'` when absent).
 * - `shop.stock.confirm`  `{ orderId, sku }` — the order is paid: held units are sold
 * - `shop.stock.cancel`   `{ orderId, sku }` — the order is abandoned: held units come back
 * - `shop.stock.restock`  `{ sku, quantity }` — units received
 *
 * Outputs (JetStream, stream `SHOP_STOCK_EVENTS`, exactly once, msgpack):
 * - `shop.stock.reserved` `{ orderId, sku, quantity, available, expiresAt }`
 * - `shop.stock.rejected` `{ orderId, sku, quantity, available }`
 * - `shop.stock.released` `{ orderId, sku, quantity, available, reason: 'expired' | 'cancelled' }`
 * - `shop.stock.sold`     `{ orderId, sku, quantity, onHand }`
 * - `shop.stock.low`      `{ sku, available, threshold }` — when `available` drops below the
 *   threshold (once per crossing, again after a restock lifts it)
 *
 * Query (core request/reply, at-most-once): `shop.stock.query` `{ sku }` →
 * `{ sku, onHand, held, holds, available }` from the SKU's committed state, or
 * `{ sku, unknown: 'deadline' | 'overloaded' }` when the actor does not answer within 2 s; a
 * request that is not `{ sku }` gets an error reply (`Nats-Service-Error-Code: 400`).
 *
 * Bad input never stops a SKU: a command that does not match its subject's schema
 * (PayloadSchemaError, with the failing field paths) and a confirmation for a hold that has
 * expired or never existed (TerminalError) go to `sluice.dlq.inventory.stock`, kept in stream
 * `SLUICE_DLQ_inventory`.
 */
export const SUBJECTS = {
  reserve: 'shop.stock.reserve',
  confirm: 'shop.stock.confirm',
  cancel: 'shop.stock.cancel',
  restock: 'shop.stock.restock',
  reserved: 'shop.stock.reserved',
  rejected: 'shop.stock.rejected',
  released: 'shop.stock.released',
  sold: 'shop.stock.sold',
  low: 'shop.stock.low',
  query: 'shop.stock.query',
} as const;

/** Streams: commands in, stock events out (distinct subjects, so the actor never reads its own output). */
export const STREAMS = {
  input: { name: 'SHOP_STOCK', subjects: [SUBJECTS.reserve, SUBJECTS.confirm, SUBJECTS.cancel, SUBJECTS.restock] },
  output: { name: 'SHOP_STOCK_EVENTS', subjects: [SUBJECTS.reserved, SUBJECTS.rejected, SUBJECTS.released, SUBJECTS.sold, SUBJECTS.low] },
} as const;

export type { LowStock, Rejected, Released, Reserved, Sold, StockAnswer, StockCommand, StockLevel, StockQuery } from './inventory-schemas.js';

/** The topology's name, and so its state directory, consumers and dead-letter subjects. */
export const TOPOLOGY = 'inventory';
/** The stock actor's address, for `askActor` / `queryActorState`. */
export const STOCK_ACTOR = { topology: TOPOLOGY, actor: 'stock' } as const;

/** Each command subject's schema; a told command (`.tell`, `op`) is checked against its verb's. */
const COMMANDS: Readonly<Record<string, PayloadSchema>> = {
  reserve: ReserveSchema,
  confirm: ConfirmSchema,
  cancel: CancelSchema,
  restock: RestockSchema,
};

/** One SKU's stock. `available` = `onHand` minus everything held. */
export interface SkuStock {
  readonly onHand: number;
  readonly holds: Readonly<Record<string, { readonly quantity: number; readonly expiresAt: number }>>;
  /** Whether `shop.stock.low` was announced and not yet lifted by a restock. */
  readonly low: boolean;
}

/** The timer payload of a hold. */
export interface HoldExpiry {
  readonly orderId: string;
}

/** Options of {@link inventory} and {@link inventoryTopology}. */
export interface InventoryConfig {
  /** How long a reservation holds units without a confirmation, ms. Default 900000 (15 minutes). */
  holdMs?: number | undefined;
  /** `shop.stock.low` when available units drop below this. Default 5. */
  lowStockThreshold?: number | undefined;
  /** Units on hand for a SKU seen for the first time. Default 0 (stock arrives by restock). */
  initialOnHand?: ((sku: string) => number) | undefined;
}

/**
 * The stock actor, keyed by SKU. Memory: one small object per recently used SKU (passivated after
 * 5 idle minutes); holds live in the SKU's state until confirmed, cancelled or expired.
 *
 * @throws InvalidConfigError for a hold that is not positive or a negative threshold.
 */
export function inventory(config: InventoryConfig = {}): ActorDefinition<SkuStock, StockCommand, HoldExpiry> {
  const holdMs = config.holdMs ?? 900_000;
  const threshold = config.lowStockThreshold ?? 5;
  const initialOnHand = config.initialOnHand ?? (() => 0);
  if (!(holdMs > 0)) throw new InvalidConfigError('inventory', 'holdMs', `must be > 0, got ${holdMs}`);
  if (!(threshold >= 0)) throw new InvalidConfigError('inventory', 'lowStockThreshold', `must be >= 0, got ${threshold}`);

  /** Announces a drop below the threshold once; a rise back above it re-arms the announcement. */
  const watchLow = (s: SkuStock, ctx: ActorContext): SkuStock => {
    const left = levelOf(ctx.key, s).available;
    if (left < threshold && !s.low) {
      ctx.emit(SUBJECTS.low, { sku: ctx.key, available: left, threshold } satisfies LowStock);
      return { ...s, low: true };
    }
    return left >= threshold && s.low ? { ...s, low: false } : s;
  };

  // 1. Reserve: take the units now or refuse; a hold expires by a durable timer.
  const reserve = (s: SkuStock, { orderId, quantity }: Reserve, ctx: ActorContext): SkuStock => {
    const left = levelOf(ctx.key, s).available;
    if (s.holds[orderId] !== undefined) {
      ctx.reply({ ok: true, available: left }); // the same order again: already held
      return s;
    }
    if (quantity > left) {
      ctx.emit(SUBJECTS.rejected, { orderId, sku: ctx.key, quantity, available: left } satisfies Rejected);
      ctx.reply({ ok: false, available: left });
      return s;
    }
    const expiresAt = ctx.now() + holdMs;
    ctx.setTimer(`hold:${orderId}`, { atMs: expiresAt }, { orderId } satisfies HoldExpiry);
    ctx.emit(SUBJECTS.reserved, { orderId, sku: ctx.key, quantity, available: left - quantity, expiresAt } satisfies Reserved);
    ctx.reply({ ok: true, available: left - quantity });
    return watchLow({ ...s, holds: { ...s.holds, [orderId]: { quantity, expiresAt } } }, ctx);
  };

  // 2. Confirm: the held units are sold and the hold's timer cancelled.
  const confirm = (s: SkuStock, { orderId }: Confirm, ctx: ActorContext): SkuStock => {
    const hold = s.holds[orderId];
    if (hold === undefined) throw new TerminalError(`confirm: order '${orderId}' holds nothing of SKU '${ctx.key}' (expired or never reserved)`);
    ctx.cancelTimer(`hold:${orderId}`);
    const { [orderId]: _sold, ...holds } = s.holds;
    const next = { ...s, onHand: s.onHand - hold.quantity, holds };
    ctx.emit(SUBJECTS.sold, { orderId, sku: ctx.key, quantity: hold.quantity, onHand: next.onHand } satisfies Sold);
    return next;
  };

  // 3. Release: a cancelled or expired hold gives its units back.
  const release = (s: SkuStock, orderId: string, reason: 'expired' | 'cancelled', ctx: ActorContext): SkuStock => {
    const hold = s.holds[orderId];
    if (hold === undefined) return s;
    const { [orderId]: _released, ...holds } = s.holds;
    const next = { ...s, holds };
    ctx.emit(SUBJECTS.released, { orderId, sku: ctx.key, quantity: hold.quantity, available: levelOf(ctx.key, next).available, reason } satisfies Released);
    return watchLow(next, ctx);
  };

  const restock = (s: SkuStock, { quantity }: Restock, ctx: ActorContext): SkuStock => watchLow({ ...s, onHand: s.onHand + quantity }, ctx);

  return actor<SkuStock, StockCommand, HoldExpiry>({
    name: STOCK_ACTOR.actor,
    // A command is checked where its SKU is taken: a bad one is dead-lettered before any state is read.
    key: (m) => checkPayload<StockCommand>(commandSchema(verbOf(m)), m.data, m).sku,
    initial: (sku) => ({ onHand: initialOnHand(sku), holds: {}, low: false }),
    handle: (s, msg, ctx) => {
      if (msg.kind === 'timer') return release(s, msg.data.orderId, 'expired', ctx);
      const verb = verbOf(msg);
      const cmd = checkPayload<StockCommand>(commandSchema(verb), msg.data, msg);
      switch (verb) {
        case 'reserve':
          return reserve(s, cmd as Reserve, ctx);
        case 'confirm':
          return confirm(s, cmd as Confirm, ctx);
        case 'cancel':
          ctx.cancelTimer(`hold:${(cmd as Cancel).orderId}`);
          return release(s, (cmd as Cancel).orderId, 'cancelled', ctx);
        default:
          return restock(s, cmd as Restock, ctx);
      }
    },
    supervision: 'skip',
  });
}

/** 4. The stock query's answer, from a SKU's state. */
export function levelOf(sku: string, s: SkuStock): StockLevel {
  const held = Object.values(s.holds).reduce((n, h) => n + h.quantity, 0);
  return { sku, onHand: s.onHand, held, holds: Object.keys(s.holds).length, available: s.onHand - held };
}

/** The command a message carries: its subject's last token, or `op` when told directly. */
function verbOf(m: Pick<Envelope<unknown>, 'subject' | 'data'>): string {
  if (!m.subject.endsWith('.tell')) return m.subject.slice(m.subject.lastIndexOf('.') + 1);
  const op = (m.data as { op?: unknown } | null)?.op;
  return typeof op === 'string' ? op : 'reserve';
}

function commandSchema(verb: string): PayloadSchema {
  const schema = Object.hasOwn(COMMANDS, verb) ? COMMANDS[verb] : undefined;
  if (schema === undefined) throw new TerminalError(`not a stock command: '${verb}'`);
  return schema;
}

/**
 * The topology: commands → the SKU's stock actor → stock events, and stock queries answered from
 * the actors' committed state. `sluice run topologies/inventory.ts` runs the default (15-minute
 * holds, threshold 5), state in `$SLUICE_STATE_DIR/inventory` (default `./.sluice/state`).
 */
export function inventoryTopology(config: InventoryConfig = {}): Topology {
  const stock = inventory(config);
  return defineTopology(TOPOLOGY, (t) => {
    // Commands → the SKU's stock actor: reserve → hold (durable timer) → confirm / cancel / expire.
    // The actor reads SHOP_STOCK itself, in stream order from its committed position, so a SKU's
    // confirm never overtakes its reserve, not even across a crash. Its events are for other
    // services (billing, the shop front); nothing here reads them back.
    t.actor(stock, undefined, {
      stream: STREAMS.input.name,
      subjects: STREAMS.input.subjects,
      schemas: { [SUBJECTS.reserve]: ReserveSchema, [SUBJECTS.confirm]: ConfirmSchema, [SUBJECTS.cancel]: CancelSchema, [SUBJECTS.restock]: RestockSchema },
      emits: {
        stream: STREAMS.output.name,
        subjects: STREAMS.output.subjects,
        readBack: false,
        schemas: {
          [SUBJECTS.reserved]: ReservedSchema,
          [SUBJECTS.rejected]: RejectedSchema,
          [SUBJECTS.released]: ReleasedSchema,
          [SUBJECTS.sold]: SoldSchema,
          [SUBJECTS.low]: LowStockSchema,
        },
      },
    });

    // "How many TEEs can I still sell?" — from the SKU's committed state, never a half-done batch.
    // The deadline answers first when the actor is slow. A bad request, or no actor yet (at start),
    // is an error reply and no dead letter: a query changes nothing, so there is nothing to replay.
    t.respond<StockQuery, StockAnswer>(
      SUBJECTS.query,
      async ({ data: { sku } }) => levelOf(sku, (await queryActorState<SkuStock>(t.transport, STOCK_ACTOR, sku, { timeoutMs: 5_000 })).state),
      {
        deadlineMs: 2_000,
        fallback: ({ data: { sku } }, reason) => ({ sku, unknown: reason }),
        schema: StockQuerySchema,
        replySchema: StockAnswerSchema,
        deadLetterErrors: false,
      },
    );
  });
}

export default inventoryTopology();
