import { batchBufferLayout as L, type OpenSegmentInfo, type SegmentInfo } from '../state/lmdb-batch-buffer.js';
import { subjectMatches } from '../transport/subject.js';
import type { BatchRecord } from './durable-batch-types.js';
import type { BatchProcessor } from './types.js';

/** Options of {@link durableBatchProcessor}. */
export interface DurableBatchProcessorConfig {
  name: string;
  triggerSubjects: readonly string[];
  maxItems: number | undefined;
  emitEmpty: boolean;
  /** Called after a commit that closed at least one batch. */
  onSealed: () => void;
}

/**
 * The accumulating side of a durable batch, as a processor of the exactly-once engine: each value
 * is written to the batch buffer (`v.<segment>.<index>`) and each trigger message seals the open
 * segment, all through the engine's transaction — so they commit atomically with the input
 * checkpoint and a replay after a crash neither loses nor doubles a value, and cuts batches at
 * the same stream positions.
 */
export function durableBatchProcessor(config: DurableBatchProcessorConfig): BatchProcessor {
  const ns = L.namespace(config.name);
  const { triggerSubjects, maxItems, emitEmpty } = config;
  const isTrigger = (subject: string): boolean => {
    for (const p of triggerSubjects) if (subjectMatches(p, subject)) return true;
    return false;
  };
  return (batch, txn) => {
    const start = txn.get<OpenSegmentInfo>(ns, L.acc) ?? { open: 1, count: 0 };
    let { open, count, firstSeq, lastSeq } = start;
    let sealed = false;
    const seal = (reason: string): void => {
      txn.put(ns, L.segment(open), { seq: open, count, firstSeq, lastSeq, reason } satisfies SegmentInfo);
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
      const record: BatchRecord = {
        subject: m.subject,
        data: m.data,
        headers: m.headers,
        stream: m.stream,
        seq: m.seq,
        timestampMs: (m as { timestampMs?: number }).timestampMs ?? m.eventTime,
      };
      txn.put(ns, L.value(open, count), record);
      count += 1;
      if (firstSeq === undefined) firstSeq = m.seq;
      lastSeq = m.seq;
      if (maxItems !== undefined && count >= maxItems) seal('max-items');
    }
    txn.put(ns, L.acc, { open, count, firstSeq, lastSeq } satisfies OpenSegmentInfo);
    if (sealed) txn.afterCommit?.(config.onSealed);
  };
}
