import { createHash } from 'node:crypto';
import { msgpackCodec } from '../codec/msgpack-codec.js';
import { DecodeError } from '../errors.js';
import { HEADERS } from '../envelope/envelope.js';
import { batchBufferLayout as L, enqueueSealed, type OpenSegmentInfo, type SegmentInfo } from '../state/lmdb-batch-buffer.js';
import { codecFor } from '../codec/codec-for.js';
import type { StreamMessage } from '../transport/transport.js';
import { deadLetterMessage } from '../dead-letter/dead-letter-message.js';
import { batchRecordEnvelope } from './batch-record-envelope.js';
import type { BatchRecord, LateRecord, PeriodGroup, PeriodsConfig } from './durable-batch-types.js';
import { PeriodLabelError } from './exactly-once-errors.js';
import type { BatchProcessor } from './types.js';

/** A group still accumulating (its period open) or waiting for `complete` (its period closed), under `g.<group key>`. */
interface OpenGroup {
  readonly seg: number;
  readonly key: string;
  readonly period: string;
  readonly count: number;
  readonly firstSeq?: number | undefined;
  readonly lastSeq?: number | undefined;
  readonly tally?: unknown;
}

/** One period, under `p.<period key>`: its group index length, waiting groups, and the close that closed it. */
interface PeriodState {
  /** Entries `pi.<period key>.<0..n-1>` (group keys; some may name groups sealed since). */
  readonly n: number;
  readonly waiting: number;
  readonly closed?: { readonly seq: number; readonly close: unknown } | undefined;
}

/** Totals of the groups, under `gst` (the accumulator's own key, read by stats). */
export interface PeriodGroupTotals {
  open: number;
  waiting: number;
  /** Values in groups not yet sealed. */
  values: number;
  late: number;
  ruleErrors: number;
  deadLettered: number;
  waitingByPeriod: Record<string, number>;
}

/**
 * Keys of period batches inside the batch namespace (beside `batchBufferLayout`'s). Periods and
 * group keys are user strings: they are length-prefixed (so `('a.b','c')` and `('a','b.c')`
 * differ) and hashed when long, so no input can make a key LMDB refuses.
 */
export const periodBatchLayout = {
  totals: 'gst',
  group: (period: string, key: string): string => `g.${short(`${period.length}:${period}${key}`)}`,
  period: (period: string): string => `p.${short(period)}`,
  index: (period: string, i: number): string => `pi.${short(period)}.${i}`,
} as const;

function short(label: string): string {
  return label.length <= 200 ? `:${label}` : `#${createHash('sha256').update(label).digest('hex')}`;
}

export const emptyTotals = (): PeriodGroupTotals => ({ open: 0, waiting: 0, values: 0, late: 0, ruleErrors: 0, deadLettered: 0, waitingByPeriod: {} });

/** Options of {@link periodBatchProcessor}. */
export interface PeriodBatchProcessorConfig {
  name: string;
  periods: PeriodsConfig<unknown, unknown, unknown>;
  isTrigger: (subject: string) => boolean;
  /** Where values and closes whose user functions throw go; undefined = the batch stops. */
  deadLetterSubject: string | undefined;
  maxPayloadBytes: number;
  /** Called after a commit that sealed at least one group. */
  onSealed: () => void;
  /** A `complete` call threw (counted as "not yet"). */
  onRuleError: (err: unknown, group: PeriodGroup) => void;
}

/**
 * The accumulating side of a period batch, as a processor of the exactly-once engine. Per value:
 * decode, `keyOf`/`periodOf`, then append to its group's segment (`v.<segment>.<index>`, a new
 * segment number per group), or publish it as late when its period is closed and it has no
 * waiting group. Per close: every group of the named period is sealed (queued for the flusher)
 * when `complete` says so, else left waiting. All through the engine's transaction, so groups,
 * cuts and late records commit with the input position and a replay makes the same ones.
 *
 * Memory: one micro-batch's writes (a close writes one record per group of its period).
 */
export function periodBatchProcessor(config: PeriodBatchProcessorConfig): BatchProcessor {
  const ns = L.namespace(config.name);
  const P = periodBatchLayout;
  const { periods, deadLetterSubject } = config;
  const operator = `durableBatch:${config.name}`;

  return (batch, txn) => {
    const acc = txn.get<OpenSegmentInfo>(ns, L.acc) ?? { open: 1, count: 0 };
    let next = acc.open;
    const prev = txn.get<PeriodGroupTotals>(ns, P.totals) ?? emptyTotals();
    const t: PeriodGroupTotals = { ...prev, waitingByPeriod: { ...prev.waitingByPeriod } };
    let sealed = false;

    const complete = (g: OpenGroup, close: unknown): boolean => {
      if (periods.complete === undefined) return true;
      const group: PeriodGroup = { key: g.key, period: g.period, count: g.count, tally: g.tally };
      try {
        return periods.complete(group, close) === true;
      } catch (err) {
        t.ruleErrors += 1;
        config.onRuleError(err, group);
        return false;
      }
    };
    const seal = (g: OpenGroup): void => {
      txn.put(ns, L.segment(g.seg), {
        seq: g.seg,
        count: g.count,
        firstSeq: g.firstSeq,
        lastSeq: g.lastSeq,
        reason: 'close',
        key: g.key,
        period: g.period,
        tally: g.tally,
      } satisfies SegmentInfo);
      enqueueSealed(txn, ns, g.seg);
      txn.delete(ns, P.group(g.period, g.key));
      t.values -= g.count;
      sealed = true;
    };
    const setWaiting = (period: string, n: number): void => {
      if (n > 0) t.waitingByPeriod[period] = n;
      else delete t.waitingByPeriod[period];
    };
    const deadLetter = (m: StreamMessage, r: BatchRecord, err: unknown): void => {
      if (deadLetterSubject === undefined) throw err;
      const d = deadLetterMessage(batchRecordEnvelope(r), err, { operator, failedAt: r.timestampMs, maxBytes: config.maxPayloadBytes });
      txn.emit(m, deadLetterSubject, d.payload, d.headers);
      t.deadLettered += 1;
    };

    const onClose = (m: StreamMessage, r: BatchRecord, close: unknown): void => {
      const period = label('closeOf', periods.closeOf(close, r));
      const ps = txn.get<PeriodState>(ns, P.period(period)) ?? { n: 0, waiting: 0 };
      const wasClosed = ps.closed !== undefined;
      let keep = 0;
      for (let i = 0; i < ps.n; i++) {
        const gk = txn.get<{ period: string; key: string }>(ns, P.index(period, i));
        const g = gk === undefined ? undefined : txn.get<OpenGroup>(ns, P.group(gk.period, gk.key));
        if (g === undefined) continue; // sealed since it was indexed
        if (wasClosed) t.waiting -= 1;
        else t.open -= 1;
        if (complete(g, close)) {
          seal(g);
          continue;
        }
        // Compacts the index to the waiting groups, so a later close of this period reads only them.
        if (keep !== i) txn.put(ns, P.index(period, keep), gk);
        keep += 1;
        t.waiting += 1;
      }
      for (let i = keep; i < ps.n; i++) txn.delete(ns, P.index(period, i));
      txn.put(ns, P.period(period), { n: keep, waiting: keep, closed: { seq: m.seq, close } } satisfies PeriodState);
      setWaiting(period, keep);
    };

    const onValue = (m: StreamMessage, r: BatchRecord, value: unknown): void => {
      const key = label('keyOf', periods.keyOf(value, r));
      const period = label('periodOf', periods.periodOf(value, r));
      let ps = txn.get<PeriodState>(ns, P.period(period));
      const found = txn.get<OpenGroup>(ns, P.group(period, key));
      if (ps?.closed !== undefined && found === undefined) {
        const late = lateRecord(config.name, r, key, period, ps.closed.seq, config.maxPayloadBytes);
        txn.emit(m, periods.lateSubject, late.payload, late.headers);
        t.late += 1;
        return;
      }
      const tally = periods.tally === undefined ? undefined : periods.tally(found?.tally, value, r);
      let g: OpenGroup = found ?? { seg: next++, key, period, count: 0 };
      if (found === undefined) {
        const n = ps?.n ?? 0;
        txn.put(ns, P.index(period, n), { period, key });
        ps = { ...ps, n: n + 1, waiting: ps?.waiting ?? 0 };
        txn.put(ns, P.period(period), ps);
        t.open += 1;
      }
      txn.put(ns, L.value(g.seg, g.count), r);
      g = { ...g, count: g.count + 1, firstSeq: g.firstSeq ?? r.seq, lastSeq: r.seq, tally };
      t.values += 1;
      if (ps?.closed !== undefined && complete(g, ps.closed.close)) {
        // A waiting group just became complete.
        seal(g);
        t.waiting -= 1;
        txn.put(ns, P.period(period), { ...ps, waiting: ps.waiting - 1 } satisfies PeriodState);
        setWaiting(period, ps.waiting - 1);
        return;
      }
      txn.put(ns, P.group(period, key), g);
    };

    for (const m of batch) {
      const r = toBatchRecord(m);
      try {
        const decoded = decodeRecord(r);
        if (config.isTrigger(m.subject)) onClose(m, r, decoded);
        else onValue(m, r, decoded);
      } catch (err) {
        deadLetter(m, r, err);
      }
    }
    if (next !== acc.open) txn.put(ns, L.acc, { open: next, count: 0 } satisfies OpenSegmentInfo);
    txn.put(ns, P.totals, t);
    if (sealed) txn.afterCommit?.(config.onSealed);
  };

  function label(field: 'keyOf' | 'periodOf' | 'closeOf', value: unknown): string {
    if (typeof value !== 'string' || value === '') throw new PeriodLabelError(config.name, field, value);
    return value;
  }
}

/** The input message as a durable batch stores it. */
export function toBatchRecord(m: StreamMessage): BatchRecord {
  return {
    subject: m.subject,
    data: m.data,
    headers: m.headers,
    stream: m.stream,
    seq: m.seq,
    timestampMs: (m as { timestampMs?: number }).timestampMs ?? m.eventTime,
  };
}

function decodeRecord(r: BatchRecord): unknown {
  const contentType = r.headers[HEADERS.contentType];
  const codec = codecFor(contentType);
  if (codec === undefined) throw new DecodeError(r, contentType ?? '', `unsupported content type '${contentType}'`);
  try {
    return codec.decode(r.data);
  } catch (err) {
    throw new DecodeError(r, codec.contentType, err instanceof Error ? err.message : String(err), { cause: err });
  }
}

/** Room left in a late record for everything but the payload (subject, headers, key, period). */
const RESERVED_BYTES = 4096;

function lateRecord(
  batch: string,
  r: BatchRecord,
  key: string,
  period: string,
  closedBySeq: number,
  maxBytes: number,
): { payload: Uint8Array; headers: Record<string, string> } {
  const origin = r.headers[HEADERS.originSubject];
  const fits = r.data.length + RESERVED_BYTES <= maxBytes;
  const record: LateRecord = {
    batch,
    subject: r.subject,
    ...(origin !== undefined ? { originSubject: origin } : {}),
    key,
    period,
    stream: r.stream,
    seq: r.seq,
    closedBySeq,
    headers: r.headers,
    payload: fits ? r.data : new Uint8Array(0),
    ...(fits ? {} : { payloadTruncated: true as const }),
  };
  return {
    payload: msgpackCodec.encode(record),
    // A period is user text: kept to one short line in the header (the record has it whole).
    headers: {
      [HEADERS.contentType]: msgpackCodec.contentType,
      'Sluice-Late-Period': period.replace(/[\r\n]+/g, ' ').slice(0, 200),
      'Sluice-Late-Stream': r.stream,
      'Sluice-Late-Seq': String(r.seq),
    },
  };
}
