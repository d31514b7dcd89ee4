import { join } from 'node:path';
import { filter, map } from 'rxjs';
import { defineTopology, msgpackCodec, type Envelope } from '../../../src/index.js';
import type { CrashOutput } from '../crash-tally.js';

interface Order {
  id: string;
  n: number;
}

/** One value as a flushed chunk lists it: the input, its key, and where the batch holds it. */
export interface FlushedValue {
  id: string;
  n: number;
  key: string;
  batch: number;
  chunk: number;
  /** Index in the batch. */
  index: number;
}

/** Inputs that close the open batch (every 100th): the values between two of them are one segment. */
export const isTrigger = (n: number): boolean => n % 100 === 0;
/** A batch closes at this many values, or at a trigger. */
export const MAX_ITEMS = 30;
const CHUNK_SIZE = 16;
const keyOf = (n: number): string => `k${n % 10}`;

/**
 * Stream → map (tags each value with its key, `n % 10`) → `t.durableBatch` (the hand-over path:
 * a durable sink into the batch's own stream). Every 100th input is a trigger, the rest values;
 * batches close at 30 values or a trigger, and are flushed in chunks of 16. Each flushed chunk
 * emits one output on `<out>.batch` listing its values in the order the batch holds them:
 * `{ batch, chunk, values: [{ id, n, key, index }] }`. Inputs are published in order of `n`, so
 * per-key order holds across crashes iff, read back in output order, every key's `n` increase.
 */
export default function durableBatchOrder(io: {
  name: string;
  stream: string;
  subjects: string;
  out: string;
  ackWaitMs: number;
  dir: string;
  reReadUnackedWithinMs?: number;
}) {
  process.env['SLUICE_STATE_DIR'] = join(io.dir, 'state');
  return defineTopology(io.name, (t) => {
    const orders = t.stream<Order>(io.stream, io.subjects, { ackWaitMs: io.ackWaitMs, maxUnsettled: 256, reReadUnackedWithinMs: io.reReadUnackedWithinMs });
    return t.durableBatch(
      {
        name: 'ordered',
        maxItems: MAX_ITEMS,
        chunkSize: CHUNK_SIZE,
        reportEveryMs: 0,
        flush: (chunk, emit, info) => {
          const values = chunk.map((r, i) => {
            const v = msgpackCodec.decode(r.data) as Order & { key: string };
            return { id: v.id, n: v.n, key: v.key, index: info.from + i };
          });
          emit(`${io.out}.batch`, msgpackCodec.encode({ batch: info.batchSeq, chunk: info.chunk, values }), { 'Content-Type': msgpackCodec.contentType });
        },
      },
      {
        values: orders.pipe(
          filter((e: Envelope<Order>) => !isTrigger(e.data.n)),
          map((e): Envelope<Order & { key: string }> => ({ ...e, data: { ...e.data, key: keyOf(e.data.n) } })),
        ),
        triggers: orders.pipe(filter((e: Envelope<Order>) => isTrigger(e.data.n))),
      },
    );
  });
}

/** A flushed chunk counts once for each value it lists, as that value's output (with its batch and chunk). */
export function perValue(o: CrashOutput): CrashOutput[] {
  const d = o.data as { batch?: number; chunk?: number; values?: Omit<FlushedValue, 'batch' | 'chunk'>[] } | null;
  if (!Array.isArray(d?.values)) return [o];
  return d.values.map((v) => ({ ...o, id: v.id, to: 'out', data: { ...v, batch: d.batch, chunk: d.chunk } }));
}

/**
 * What the flushed values, in output order, break of per-key order and of the batches' cut:
 * chunks come out in (batch, chunk) order, every key's values increase within a batch and across
 * batches, a batch holds at most {@link MAX_ITEMS} values and never spans a trigger, and its
 * values sit at consecutive indexes.
 */
export function batchOrderProblems(outputs: readonly CrashOutput[]): string[] {
  const problems: string[] = [];
  const lastByKey = new Map<string, number>();
  let at = { batch: 0, chunk: -1, index: -1, segment: -1 };
  for (const o of outputs) {
    const v = o.data as FlushedValue;
    if (v.key !== keyOf(v.n)) problems.push(`key: n=${v.n} listed under ${v.key}`);
    const last = lastByKey.get(v.key) ?? 0;
    if (v.n <= last) problems.push(`order: key ${v.key} flushed n=${v.n} (batch ${v.batch}, chunk ${v.chunk}) after n=${last}`);
    lastByKey.set(v.key, Math.max(last, v.n));
    const segment = Math.floor(v.n / 100);
    if (v.batch < at.batch || (v.batch === at.batch && v.chunk < at.chunk))
      problems.push(`flush order: batch ${v.batch} chunk ${v.chunk} after batch ${at.batch} chunk ${at.chunk}`);
    else if (v.batch === at.batch) {
      if (v.index !== at.index + 1) problems.push(`index: batch ${v.batch} holds index ${v.index} after ${at.index}`);
      if (segment !== at.segment) problems.push(`cut: batch ${v.batch} spans a trigger (n=${v.n})`);
    } else if (v.index !== 0) problems.push(`index: batch ${v.batch} starts at index ${v.index}`);
    if (v.index >= MAX_ITEMS) problems.push(`size: batch ${v.batch} holds index ${v.index}`);
    at = { batch: v.batch, chunk: v.chunk, index: v.index, segment };
  }
  return problems;
}
