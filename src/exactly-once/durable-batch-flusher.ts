import type { SchedulerLike } from 'rxjs';
import { deadLetterMessage } from '../dead-letter/dead-letter-message.js';
import { batchRecordEnvelope } from './batch-record-envelope.js';
import { batchBufferLayout as L, type SegmentInfo } from '../state/lmdb-batch-buffer.js';
import type { StateStore } from '../state/types.js';
import { validateSubject } from '../transport/subject.js';
import type { Transport } from '../transport/transport.js';
import type { BatchFlush, BatchRecord, DurableBatchStats, FlushChunkInfo } from './durable-batch-types.js';
import { decodeOutbox, encodeOutbox, type OutboxEntry } from './outbox-codec.js';
import { OutboxPublisher } from './outbox-publisher.js';
import { checkStaleOutbox } from './stale-outbox.js';
import type { Logger } from '../logger.js';
import type { FaultContext } from './types.js';

/** Flush progress of one segment, under `fl.<segment>`: the next value, output and chunk index. */
interface Progress {
  readonly index: number;
  readonly outputs: number;
  readonly chunk?: number | undefined;
}

export interface DurableBatchFlusherOptions {
  name: string;
  transport: Transport;
  store: StateStore;
  flush: BatchFlush;
  chunkSize: number;
  /** Where values whose flush throws go; undefined = a throwing flush stops the batch. */
  deadLetterSubject: string | undefined;
  maxInFlight: number;
  ackTimeoutMs: number;
  maxPending: number;
  duplicateWindowMs: number | undefined;
  scheduler: SchedulerLike;
  logger: Logger;
  stats: DurableBatchStats;
  faults?: ((ctx: FaultContext) => void) | undefined;
  onFatal: (err: unknown) => void;
}

const progressKey = (segment: number): string => `fl.${segment}`;
// Counter of the flush's outbox records (their LMDB key), so recovery re-publishes in commit order.
const OUTBOX_COUNTER = 'fo';

/**
 * The flushing side of a durable batch: reads each sealed segment in the order it was sealed (the
 * seal queue `sq.<i>`; period groups seal out of creation order), `chunkSize` values
 * at a time, calls `flush` per chunk, and commits in ONE transaction the chunk's outputs (outbox
 * record `<name>.batch`), the deletion of its values and the segment's progress; the last chunk
 * also deletes the segment and advances the queue head `sqh`. Outputs are then published with `Nats-Msg-Id`
 * `<topology>.<name>.batch.<batchSeq>.<index>` (index counts the batch's outputs across chunks), so
 * after a crash the committed chunks are re-published (dropped as duplicates) and the flush goes on
 * from the first uncommitted chunk.
 *
 * Memory: one chunk of values, its outputs, and at most `maxPending` unacknowledged outputs.
 */
export class DurableBatchFlusher {
  private readonly ns: string;
  private readonly outboxName: string;
  private readonly msgIdPrefix: string;
  private readonly publisher: OutboxPublisher;
  private readonly pending = new Set<number>();
  private readonly removable: number[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  private wake: (() => void) | undefined;
  private wanted = true;
  private stopping = false;
  private failed = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly o: DurableBatchFlusherOptions) {
    this.ns = L.namespace(o.name);
    this.outboxName = `${o.name}.batch`;
    this.msgIdPrefix = `${o.store.topology}.${o.name}.batch.`;
    this.publisher = new OutboxPublisher({
      transport: o.transport,
      msgIdPrefix: this.msgIdPrefix,
      maxInFlight: o.maxInFlight,
      ackTimeoutMs: o.ackTimeoutMs,
      scheduler: o.scheduler,
      logger: o.logger,
      counters: o.stats,
      faults: o.faults,
      onBatchAcked: (seq) => {
        this.pending.delete(seq);
        this.removable.push(seq);
        this.notify();
      },
      onFatal: (err) => this.fail(err),
    });
  }

  /** Re-publishes the outbox left by a previous run, then starts flushing sealed segments. */
  async start(): Promise<void> {
    const recovered = [...this.o.store.outbox(this.outboxName)].map((r) => ({ seq: r.seq, createdAt: r.createdAt, entries: decodeOutbox(r.blob) }));
    if (recovered.length > 0) {
      const check = await checkStaleOutbox({
        transport: this.o.transport,
        batches: recovered,
        msgIdPrefix: this.msgIdPrefix,
        nowMs: this.o.scheduler.now(),
        duplicateWindowMs: this.o.duplicateWindowMs,
        logger: this.o.logger,
      });
      this.o.logger.info({ batch: this.o.name, records: recovered.length, skipped: check.found.size }, 'durable batch recovery: re-publishing flush outputs');
      for (const b of recovered) {
        this.pending.add(b.seq);
        this.publisher.enqueue({
          seq: b.seq,
          entries: check.found.size === 0 ? b.entries : b.entries.filter((e) => !check.found.has(`${this.msgIdPrefix}${e.seq}.${e.index}`)),
        });
      }
    }
    this.loop = this.run();
  }

  /** Flush outputs committed and not yet acknowledged. */
  get pendingOutputs(): number {
    return this.publisher.pending;
  }

  /** A segment was sealed: look again. */
  poke(): void {
    this.wanted = true;
    this.notify();
  }

  /** Resolves when every segment queued before queue index `tail` is flushed and nothing is unacknowledged. */
  async idleThrough(tail: number): Promise<void> {
    while (!this.failed && !(this.head() >= tail && this.pending.size === 0)) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
  }

  /** Finishes the chunk in progress, waits (up to `timeoutMs`) for acks, commits removals, closes. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    this.notify();
    await this.loop;
    if (this.failed) return;
    let timer: { unsubscribe(): void } | undefined;
    const timedOut = new Promise<boolean>((resolve) => (timer = this.o.scheduler.schedule(() => resolve(true), timeoutMs)));
    const late = await Promise.race([this.publisher.whenPendingAtMost(0).then(() => false), timedOut]);
    timer?.unsubscribe();
    if (late)
      this.o.logger.warn(
        { batch: this.o.name, pending: this.publisher.pending },
        'durable batch stop: flush outputs still unacknowledged; re-published on next start',
      );
    this.commitRemovals();
    this.publisher.close();
  }

  /** Stops without committing anything more (the owner failed). */
  close(): void {
    this.failed = true;
    this.publisher.close();
    this.notify();
  }

  private head(): number {
    return this.o.store.get<number>(this.ns, L.queueHead) ?? 0;
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
    for (const r of this.idleWaiters.splice(0)) r();
  }

  private fail(err: unknown): void {
    if (this.failed) return;
    this.close();
    this.o.onFatal(err);
  }

  private async run(): Promise<void> {
    try {
      while (!this.stopping && !this.failed) {
        const head = this.head();
        const n = this.o.store.get<number>(this.ns, L.queued(head));
        const info = n === undefined ? undefined : this.o.store.get<SegmentInfo>(this.ns, L.segment(n));
        if (n === undefined || info === undefined) {
          this.commitRemovals();
          if (!this.wanted) await new Promise<void>((resolve) => (this.wake = resolve));
          this.wanted = false;
          continue;
        }
        await this.flushChunk(head, n, info);
      }
    } catch (err) {
      this.fail(err);
    }
  }

  private async flushChunk(head: number, n: number, info: SegmentInfo): Promise<void> {
    const { store, chunkSize } = this.o;
    const progress = store.get<Progress>(this.ns, progressKey(n)) ?? { index: 0, outputs: 0 };
    const from = progress.index;
    const end = Math.min(info.count, from + chunkSize);
    const chunk: BatchRecord[] = [];
    for (let i = from; i < end; i++) {
      const v = store.get<BatchRecord>(this.ns, L.value(n, i));
      if (v === undefined) throw new Error(`durable batch '${this.o.name}': value ${i} of batch ${n} is missing from the store`);
      chunk.push(v);
    }
    const entries: OutboxEntry[] = [];
    const emit = (subject: string, data: Uint8Array, headers?: Readonly<Record<string, string>>): void => {
      validateSubject(subject, { wildcards: false });
      entries.push({ seq: n, index: progress.outputs + entries.length, subject, data, headers });
    };
    const last = end >= info.count;
    const chunkInfo: FlushChunkInfo = {
      batchId: `${this.o.name}:${n}`,
      batchSeq: n,
      reason: info.reason ?? 'trigger',
      count: info.count,
      from,
      last,
      firstSeq: info.firstSeq,
      lastSeq: info.lastSeq,
      chunk: progress.chunk ?? 0,
      ...(info.key !== undefined ? { key: info.key, period: info.period, tally: info.tally } : {}),
    };
    try {
      await this.o.flush(chunk, emit, chunkInfo);
    } catch (err) {
      if (this.o.deadLetterSubject === undefined) throw err;
      await this.isolate(chunk, chunkInfo, entries, emit, this.o.deadLetterSubject);
    }
    if (this.failed) return;
    const recordSeq = (store.get<number>(this.ns, OUTBOX_COUNTER) ?? 0) + 1;
    const blob = entries.length > 0 ? encodeOutbox(entries) : undefined;
    const remove = this.removable.splice(0);
    const createdAt = this.o.scheduler.now();
    store.transaction((w) => {
      for (let i = from; i < end; i++) w.delete(this.ns, L.value(n, i));
      if (blob !== undefined) {
        w.putOutbox(this.outboxName, { seq: recordSeq, createdAt, blob });
        w.put(this.ns, OUTBOX_COUNTER, recordSeq);
      }
      for (const s of remove) w.deleteOutbox(this.outboxName, s);
      if (last) {
        w.delete(this.ns, L.segment(n));
        w.delete(this.ns, progressKey(n));
        w.delete(this.ns, L.queued(head));
        w.put(this.ns, L.queueHead, head + 1);
      } else {
        w.put(this.ns, progressKey(n), { index: end, outputs: progress.outputs + entries.length, chunk: (progress.chunk ?? 0) + 1 } satisfies Progress);
      }
    });
    this.o.stats.chunks += 1;
    this.o.stats.outputs += entries.length;
    if (last) {
      this.o.stats.batchesFlushed += 1;
      this.o.stats.lastBatchSize = info.count;
      if (info.count > this.o.stats.maxBatchSize) this.o.stats.maxBatchSize = info.count;
    }
    if (blob !== undefined) {
      this.pending.add(recordSeq);
      this.publisher.enqueue({ seq: recordSeq, entries });
    }
    this.notify();
    await this.publisher.whenPendingAtMost(this.o.maxPending);
  }

  /**
   * The chunk's flush threw: runs it again value by value (dropping what the failed call emitted),
   * and replaces the outputs of each value that still fails with its dead letter — in the same
   * outbox, so dead letters are published exactly once too.
   */
  private async isolate(
    chunk: readonly BatchRecord[],
    info: FlushChunkInfo,
    entries: OutboxEntry[],
    emit: (subject: string, data: Uint8Array, headers?: Readonly<Record<string, string>>) => void,
    dlq: string,
  ): Promise<void> {
    entries.length = 0;
    for (let j = 0; j < chunk.length; j++) {
      const r = chunk[j]!;
      const mark = entries.length;
      try {
        await this.o.flush([r], emit, { ...info, from: info.from + j, last: info.last && j === chunk.length - 1 });
      } catch (err) {
        entries.length = mark;
        const d = deadLetterMessage(batchRecordEnvelope(r), err, {
          operator: `durableBatch:${this.o.name}`,
          failedAt: this.o.scheduler.now(),
          maxBytes: this.o.transport.maxPayloadBytes,
        });
        emit(dlq, d.payload, d.headers);
        this.o.stats.deadLettered += 1;
        this.o.logger.warn(
          { batch: this.o.name, batchSeq: info.batchSeq, subject: r.subject, seq: r.seq, err: d.record.error.message },
          'durable batch: flush failed for a value; dead-lettered',
        );
      }
    }
  }

  private commitRemovals(): void {
    const remove = this.removable.splice(0);
    if (remove.length === 0) return;
    this.o.store.transaction((w) => {
      for (const s of remove) w.deleteOutbox(this.outboxName, s);
    });
  }
}
