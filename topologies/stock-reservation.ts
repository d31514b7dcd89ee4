import { actor, actorTopology, InvalidConfigError, TerminalError, type ActorContext, type ActorDefinition, type ActorMessage } from 'sluice';
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
  type Cancel,
  type Confirm,
  type LowStock,
  type Rejected,
  type Released,
  type Reserve,
  type Reserved,
  type Restock,
  type Sold,
} from './stock-reservation-schemas.js';

/**
 * Stock reservation, the article's e-commerce case: a customer must not be able to buy the last
 * unit while another customer's order sits in a queue. One actor per SKU holds its stock; a
 * reservation takes units at once (in stream order per SKU, so two orders never both get the last
 * unit), a durable timer releases it after `holdMs` unless the order is confirmed, and a SKU that
 * runs low is announced on `shop.stock.low`.
 *
 * Payloads are defined once as zod schemas in stock-reservation-schemas.ts (the types below are
 * inferred from them; `sluice describe --json` publishes them as JSON Schema).
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
 * A command that is not one of these shapes, and a confirmation for a hold that has already
 * expired (or never existed), go to `sluice.dlq.<topology>.stock` (TerminalError, not retried) for
 * someone to look at; the SKU carries on.
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
} as const;

/** Streams: commands in, stock events out (distinct subjects, so the actor never reads its own output). */
export const STREAMS = {
  input: { name: 'SHOP_STOCK', subjects: [SUBJECTS.reserve, SUBJECTS.confirm, SUBJECTS.cancel, SUBJECTS.restock] },
  output: { name: 'SHOP_STOCK_EVENTS', subjects: [SUBJECTS.reserved, SUBJECTS.rejected, SUBJECTS.released, SUBJECTS.sold, SUBJECTS.low] },
} as const;

/** A command on one of the input subjects. */
export type StockCommand = Reserve | Confirm | Cancel | Restock;

/** The payload schema of every input and output subject. */
export const SCHEMAS = {
  [SUBJECTS.reserve]: ReserveSchema,
  [SUBJECTS.confirm]: ConfirmSchema,
  [SUBJECTS.cancel]: CancelSchema,
  [SUBJECTS.restock]: RestockSchema,
  [SUBJECTS.reserved]: ReservedSchema,
  [SUBJECTS.rejected]: RejectedSchema,
  [SUBJECTS.released]: ReleasedSchema,
  [SUBJECTS.sold]: SoldSchema,
  [SUBJECTS.low]: LowStockSchema,
} as const;

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

/** Options of {@link stockReservation}. */
export interface StockReservationConfig {
  /** How long a reservation holds units without a confirmation, ms. Default 900000 (15 minutes). */
  holdMs?: number | undefined;
  /** `shop.stock.low` when available units drop below this. Default 5. */
  lowStockThreshold?: number | undefined;
  /** Units on hand for a SKU seen for the first time. Default 0 (stock arrives by restock). */
  initialOnHand?: ((sku: string) => number) | undefined;
}

/**
 * The stock actor, keyed by SKU, to run with `startActor` on a stream capturing
 * `STREAMS.input.subjects` (see docs/actors.md). Memory: one small object per recently used SKU
 * (passivated after 5 idle minutes); holds live in the SKU's state until confirmed, cancelled or
 * expired.
 *
 * @throws InvalidConfigError for a negative hold or threshold.
 */
export function stockReservation(config: StockReservationConfig = {}): ActorDefinition<SkuStock, StockCommand, HoldExpiry> {
  const holdMs = config.holdMs ?? 900_000;
  const threshold = config.lowStockThreshold ?? 5;
  const initialOnHand = config.initialOnHand ?? (() => 0);
  if (!(holdMs > 0)) throw new InvalidConfigError('stockReservation', 'holdMs', `must be > 0, got ${holdMs}`);
  if (!(threshold >= 0)) throw new InvalidConfigError('stockReservation', 'lowStockThreshold', `must be >= 0, got ${threshold}`);

  const available = (s: SkuStock): number => s.onHand - Object.values(s.holds).reduce((n, h) => n + h.quantity, 0);
  /** Announces a drop below the threshold once; a rise above it re-arms the announcement. */
  const watchLow = (s: SkuStock, ctx: ActorContext): SkuStock => {
    const left = available(s);
    if (left < threshold && !s.low) {
      ctx.emit(SUBJECTS.low, { sku: ctx.key, available: left, threshold } satisfies LowStock);
      return { ...s, low: true };
    }
    return left >= threshold && s.low ? { ...s, low: false } : s;
  };
  const release = (s: SkuStock, orderId: string, reason: 'expired' | 'cancelled', ctx: ActorContext): SkuStock => {
    const hold = s.holds[orderId];
    if (hold === undefined) return s;
    const { [orderId]: _released, ...holds } = s.holds;
    const next = { ...s, holds };
    ctx.emit(SUBJECTS.released, { orderId, sku: ctx.key, quantity: hold.quantity, available: available(next), reason } satisfies Released);
    return watchLow(next, ctx);
  };

  const handle = (s: SkuStock, msg: ActorMessage<StockCommand, HoldExpiry>, ctx: ActorContext): SkuStock => {
    if (msg.kind === 'timer') return release(s, msg.data.orderId, 'expired', ctx);
    const cmd = (msg.data ?? {}) as Partial<{ orderId: unknown; quantity: unknown; op: unknown }>;
    const orderId = typeof cmd.orderId === 'string' ? cmd.orderId : undefined;
    const quantity = typeof cmd.quantity === 'number' && Number.isInteger(cmd.quantity) && cmd.quantity > 0 ? cmd.quantity : undefined;
    // Told directly (askActor on the SKU's .tell subject), a command names itself in `op`.
    const verb = msg.subject.endsWith('.tell') ? (typeof cmd.op === 'string' ? cmd.op : 'reserve') : msg.subject.slice('shop.stock.'.length);
    switch (verb) {
      case 'reserve': {
        if (orderId === undefined || quantity === undefined) throw new TerminalError(`reserve needs { orderId, sku, quantity > 0 }, got ${JSON.stringify(msg.data)}`);
        if (s.holds[orderId] !== undefined) {
          ctx.reply({ ok: true, available: available(s) });
          return s;
        }
        const left = available(s);
        if (quantity > left) {
          ctx.emit(SUBJECTS.rejected, { orderId, sku: ctx.key, quantity, available: left } satisfies Rejected);
          ctx.reply({ ok: false, available: left });
          return s;
        }
        const expiresAt = ctx.now() + holdMs;
        ctx.setTimer(`hold:${orderId}`, { atMs: expiresAt }, { orderId });
        const next = { ...s, holds: { ...s.holds, [orderId]: { quantity, expiresAt } } };
        ctx.emit(SUBJECTS.reserved, { orderId, sku: ctx.key, quantity, available: left - quantity, expiresAt } satisfies Reserved);
        ctx.reply({ ok: true, available: left - quantity });
        return watchLow(next, ctx);
      }
      case 'confirm': {
        if (orderId === undefined) throw new TerminalError(`confirm needs { orderId, sku }, got ${JSON.stringify(msg.data)}`);
        const hold = s.holds[orderId];
        if (hold === undefined) throw new TerminalError(`confirm: order '${orderId}' holds nothing of SKU '${ctx.key}' (expired or never reserved)`);
        ctx.cancelTimer(`hold:${orderId}`);
        const { [orderId]: _sold, ...holds } = s.holds;
        const next = { ...s, onHand: s.onHand - hold.quantity, holds };
        ctx.emit(SUBJECTS.sold, { orderId, sku: ctx.key, quantity: hold.quantity, onHand: next.onHand } satisfies Sold);
        return next;
      }
      case 'cancel': {
        if (orderId === undefined) throw new TerminalError(`cancel needs { orderId, sku }, got ${JSON.stringify(msg.data)}`);
        ctx.cancelTimer(`hold:${orderId}`);
        return release(s, orderId, 'cancelled', ctx);
      }
      case 'restock': {
        if (quantity === undefined) throw new TerminalError(`restock needs { sku, quantity > 0 }, got ${JSON.stringify(msg.data)}`);
        return watchLow({ ...s, onHand: s.onHand + quantity }, ctx);
      }
      default:
        throw new TerminalError(`not a stock command subject: '${msg.subject}'`);
    }
  };

  return actor<SkuStock, StockCommand, HoldExpiry>({
    name: 'stock',
    key: (m) => {
      const sku = (m.data as { sku?: unknown } | null)?.sku;
      if (typeof sku !== 'string' || sku.length === 0) throw new TerminalError(`a stock command needs a 'sku', got ${JSON.stringify(m.data)}`);
      return sku;
    },
    initial: (sku) => ({ onHand: initialOnHand(sku), holds: {}, low: false }),
    handle,
    supervision: 'skip',
  });
}

/**
 * `sluice run topologies/stock-reservation.ts`: the stock actor with a 15-minute hold and a
 * threshold of 5, state in `$SLUICE_STATE_DIR/stock-reservation` (default `./.sluice/state`).
 * A command that does not match its subject's schema is dead-lettered (PayloadSchemaError, with
 * the failing field paths) before the actor sees it.
 */
export default actorTopology('stock-reservation', stockReservation(), {
  stream: STREAMS.input.name,
  subjects: STREAMS.input.subjects,
  ensureStreams: [STREAMS.output],
  schemas: SCHEMAS,
});
