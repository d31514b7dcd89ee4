import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ORDER_TARGETS, orderTarget, wirePackr, type OrderEvent, type OrderTarget } from '../workload.js';
import { MAX_BATCH_PAYLOAD_BYTES } from './batch-payload.js';
import { type ModeFactory, natsCounters } from './mode.js';
import { concatArray32 } from './concat-array32.js';

/**
 * Baseline of the batch modes: what a careful engineer writes by hand on the raw NATS v3 client to
 * do what `micro-batch-*` and `triggered-*` do. One callback subscription keeps each message's
 * bytes in an array; at the cut (param `maxWaitMs` since the batch's first message or `maxCount`
 * messages; or, with param `periodMs`, on a fixed timer like the triggered batch) it decodes the
 * held messages `chunk` (default 1000) at a time in ONE msgpackr unpack of an array32 header
 * followed by their bytes (the trick of src/codec msgpackCodec.decodeMany), applies the routing
 * rule of workload.ts `orderTarget`, and publishes one MessagePack array32 message per target of
 * the events' original bytes (the wire format of batch-payload.ts `batchPayloads`).
 *
 * It is the leaner of the two on purpose (a lower bound for the design, not a rival product): no
 * envelopes, no per-payload check that each message is one plain msgpack item before the bulk
 * unpack. The workload has no malformed events; if one ever made the bulk unpack throw or return
 * the wrong count, the chunk is decoded message by message and the failures go to the dead-letter
 * subject with their bytes, like Sluice does.
 */
export const start: ModeFactory = async (ctx) => {
  const nc = await connect({ servers: ctx.url, noAsyncTraces: true, name: 'bench-raw-micro-batch' });
  const periodMs = ctx.params['periodMs'];
  const maxWaitMs = ctx.params['maxWaitMs'] ?? 100;
  const maxCount = periodMs === undefined ? (ctx.params['maxCount'] ?? 1000) : Infinity;
  const chunk = ctx.params['chunk'] ?? 1000;
  const subjects = Object.fromEntries(ORDER_TARGETS.map((t) => [t, ctx.outSubject(t)])) as Record<OrderTarget, string>;

  let held: Uint8Array[] = [];
  let timer: NodeJS.Timeout | undefined;
  const cut = (): void => {
    if (timer !== undefined && periodMs === undefined) clearTimeout(timer);
    if (periodMs === undefined) timer = undefined;
    const batch = held;
    held = [];
    for (let from = 0; from < batch.length; from += chunk) publishChunk(nc, ctx.deadLetterSubject, subjects, batch, from, Math.min(batch.length, from + chunk));
  };
  if (periodMs !== undefined) timer = setInterval(cut, periodMs);

  const sub = nc.subscribe(ctx.inSubject, {
    callback: (err, msg) => {
      if (err !== null) return;
      held.push(msg.data);
      if (held.length >= maxCount) cut();
      else if (timer === undefined) timer = setTimeout(cut, maxWaitMs);
    },
  });
  await nc.flush();
  return {
    counters: natsCounters(nc),
    stop: async () => {
      // Stop taking messages, publish what is held, then flush and close.
      await sub.drain();
      clearTimeout(timer);
      clearInterval(timer);
      cut();
      await nc.drain();
    },
  };
};

/** Decodes batch[from, end) at once, routes each order, publishes one array32 message per target (split under the payload limit). */
function publishChunk(
  nc: NatsConnection,
  deadLetter: string,
  subjects: Record<OrderTarget, string>,
  batch: readonly Uint8Array[],
  from: number,
  end: number,
): void {
  const groups: Record<OrderTarget, Uint8Array[]> = { review: [], express: [], eu: [], row: [] };
  const orders = unpackMany(batch, from, end);
  for (let i = from; i < end; i++) {
    const order = orders === undefined ? unpackOne(batch[i]!) : orders[i - from];
    if (order === undefined) {
      nc.publish(deadLetter, batch[i]);
      continue;
    }
    groups[orderTarget(order)].push(batch[i]!);
  }
  for (const target of ORDER_TARGETS) {
    const parts = groups[target];
    let at = 0;
    while (at < parts.length) {
      let size = 5;
      let stop = at;
      while (stop < parts.length && (stop === at || size + parts[stop]!.length <= MAX_BATCH_PAYLOAD_BYTES)) size += parts[stop++]!.length;
      nc.publish(subjects[target], concatArray32(parts, at, stop, size));
      at = stop;
    }
  }
}

/** One unpack of an array32 header followed by the messages' bytes; undefined when that fails or miscounts. */
function unpackMany(batch: readonly Uint8Array[], from: number, end: number): OrderEvent[] | undefined {
  let size = 5;
  for (let i = from; i < end; i++) size += batch[i]!.length;
  try {
    const orders: unknown = wirePackr.unpack(concatArray32(batch, from, end, size));
    return Array.isArray(orders) && orders.length === end - from && orders.every(isOrderLike) ? (orders as OrderEvent[]) : undefined;
  } catch {
    return undefined;
  }
}

function unpackOne(bytes: Uint8Array): OrderEvent | undefined {
  try {
    const order: unknown = wirePackr.unpack(bytes);
    return isOrderLike(order) ? (order as OrderEvent) : undefined;
  } catch {
    return undefined;
  }
}

function isOrderLike(v: unknown): boolean {
  return typeof v === 'object' && v !== null;
}
