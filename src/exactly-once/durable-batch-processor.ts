import { batchBufferLayout as L, enqueueSealed, type OpenSegmentInfo, type SegmentInfo } from '../state/lmdb-batch-buffer.js';
import { subjectMatches } from '../transport/subject.js';
import type { PeriodGroup, PeriodsConfig } from './durable-batch-types.js';
import { periodBatchProcessor, toBatchRecord } from './period-batch-processor.js';
import type { BatchProcessor } from './types.js';

/** Options of {@link durableBatchProcessor}. */
export interface DurableBatchProcessorConfig {
  name: string;
  triggerSubjects: readonly string[];
  maxItems: number | undefined;
  emitEmpty: boolean;
  /** Period batches (groups per key and period) instead of one open batch. */
  periods?: PeriodsConfig<unknown, unknown, unknown> | undefined;
  /** Period batches: where values and closes whose user functions throw go (undefined: the batch stops), and the largest record. */
  deadLetterSubject?: string | undefined;
  maxPayloadBytes?: number | undefined;
  onRuleError?: ((err: unknown, group: PeriodGroup) => void) | undefined;
  /** Called after a commit that closed at least one batch. */
  onSealed: () => void;
}

/**
 * The accumulating side of a durable batch, as a processor of the exactly-once engine: each value
 * is written to the batch buffer (`v.<segment>.<index>`) and each trigger message seals the open
 * segment (queuing it for the flusher), all through the engine's transaction — so they commit
 * atomically with the input checkpoint and a replay after a crash neither loses nor doubles a
 * value, and cuts batches at the same stream positions. With `periods`, values go to one segment
 * per key and period instead (see `periodBatchProcessor`).
 */
export function durableBatchProcessor(config: DurableBatchProcessorConfig): BatchProcessor {
  const ns = L.namespace(config.name);
  const { triggerSubjects, maxItems, emitEmpty } = config;
  const isTrigger = (subject: string): boolean => {
    for (const p of triggerSubjects) if (subjectMatches(p, subject)) return true;
    return false;
  };
  if (config.periods !== undefined) {
    return periodBatchProcessor({
      name: config.name,
      periods: config.periods,
      isTrigger,
      deadLetterSubject: config.deadLetterSubject,
      maxPayloadBytes: config.maxPayloadBytes ?? 1024 * 1024,
      onSealed: config.onSealed,
      onRuleError: config.onRuleError ?? (() => undefined),
    });
  }
  return (batch, txn) => {
    const start = txn.get<OpenSegmentInfo>(ns, L.acc) ?? { open: 1, count: 0 };
    let { open, count, firstSeq, lastSeq } = start;
    let sealed = false;
    const seal = (reason: string): void => {
      txn.put(ns, L.segment(open), { seq: open, count, firstSeq, lastSeq, reason } satisfies SegmentInfo);
      enqueueSealed(txn, ns, open);
      open += 1;
      count = 0;
      firstSeq = undefined;
      lastSeq = undefined;
      sealed = true;
    };
    for (const m of batch) {
      if (isTrigger(m.subject)) {
        if (count > 0 || emitEmpty) seal('trigger');
        continue;
      }
      txn.put(ns, L.value(open, count), toBatchRecord(m));
      count += 1;
      if (firstSeq === undefined) firstSeq = m.seq;
      lastSeq = m.seq;
      if (maxItems !== undefined && count >= maxItems) seal('max-items');
    }
    txn.put(ns, L.acc, { open, count, firstSeq, lastSeq } satisfies OpenSegmentInfo);
    if (sealed) txn.afterCommit?.(config.onSealed);
  };
}
