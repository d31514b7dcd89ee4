import type { SchedulerLike } from 'rxjs';
import type { AckPublisher, Transport } from '../transport/transport.js';
import type { OutboxEntry } from './outbox-codec.js';
import { OutboxReader } from './outbox-reader.js';
import { FifoBuffer } from '../transport/fifo-buffer.js';
import type { Logger } from '../logger.js';
import type { FaultContext } from './types.js';

/**
 * A committed batch's outputs on their way to JetStream: decoded entries (recovery, durable
 * batches) or the outbox blob itself (the engine's hot path: no object per output until it is sent).
 */
export type PublishBatch =
  | {
      /** The outbox key: the batch's last input sequence. */
      readonly seq: number;
      readonly entries: readonly OutboxEntry[];
    }
  | {
      readonly seq: number;
      /** An outbox blob (outbox-codec's layout) the publisher may keep until every output is acknowledged. */
      readonly blob: Uint8Array;
    };

/** Counters the publisher updates. */
export interface PublisherCounters {
  acked: number;
  duplicates: number;
  resent: number;
  publishErrors: number;
}

export interface OutboxPublisherOptions {
  transport: Pick<Transport, 'ackPublisher'>;
  /** `<topology>.<engine>.`; an entry's id is this + `<seq>.<index>`. */
  msgIdPrefix: string;
  maxInFlight: number;
  ackTimeoutMs: number;
  scheduler: SchedulerLike;
  logger: Logger;
  counters: PublisherCounters;
  /** A batch's outputs are all acknowledged: its outbox record may go. */
  onBatchAcked: (seq: number) => void;
  /** Something failed where no caller can catch it (a fault hook, mostly). */
  onFatal: (err: unknown) => void;
  faults?: ((ctx: FaultContext) => void) | undefined;
}

/** One outbox record being published: the token of each of its outputs. */
interface BatchState {
  readonly seq: number;
  /** Outputs handed to the transport so far (for the `mid-publish` fault). */
  sent: number;
  /** Outputs not yet acknowledged. */
  remaining: number;
}

/** A batch whose outputs are not all handed to the window yet. */
interface Feed {
  readonly state: BatchState;
  readonly entries: readonly OutboxEntry[] | undefined;
  readonly reader: OutboxReader | undefined;
  next: number;
  left: number;
}

/**
 * Publishes committed outbox records through the transport's {@link AckPublisher} (window of
 * `maxInFlight`, re-sends under the same `Nats-Msg-Id` after an ack timeout, a server error or a
 * reconnect) and tells the engine when every output of a record is acknowledged, so the record
 * can be removed. Outputs are handed to the window only as it has room (so outputs waiting for the
 * window hold no message object, only their place in the batch's blob), in synchronous loops,
 * which lets the NATS client coalesce the socket writes.
 */
export class OutboxPublisher {
  private readonly publisher: AckPublisher<BatchState>;
  private readonly waiters: { limit: number; resolve: () => void }[] = [];
  private readonly feeds = new FifoBuffer<Feed>();
  /** Outputs of `feeds` not yet handed to the window. */
  private unfed = 0;
  private feeding = false;

  constructor(private readonly o: OutboxPublisherOptions) {
    const { counters, logger } = o;
    this.publisher = o.transport.ackPublisher<BatchState>({
      maxInFlight: o.maxInFlight,
      ackTimeoutMs: o.ackTimeoutMs,
      scheduler: o.scheduler,
      beforeSend: (b) => {
        o.faults?.({ point: 'mid-publish', seq: b.seq, published: b.sent });
        b.sent += 1;
      },
      onAck: (b, { duplicate }) => {
        counters.acked += 1;
        if (duplicate) counters.duplicates += 1;
        b.remaining -= 1;
        if (b.remaining === 0) o.onBatchAcked(b.seq);
        if (this.unfed > 0) this.feed();
        this.wake();
      },
      onRejected: (_b, { message, error, attempts, retryInMs }) => {
        counters.publishErrors += 1;
        // One line per hundred: a missing stream rejects every output until someone creates it.
        if (counters.publishErrors % 100 === 1) {
          logger.warn(
            { subject: message.subject, msgId: message.msgId, attempts, retryInMs, error, errors: counters.publishErrors },
            'exactly-once output rejected by the server; retrying',
          );
        }
      },
      onResent: ({ count, reason }) => {
        counters.resent += count;
        if (reason === 'timeout')
          logger.warn({ outputs: count, ackTimeoutMs: o.ackTimeoutMs }, 'exactly-once outputs not acknowledged in time; re-sending them under the same ids');
      },
      onFailure: (err) => o.onFatal(err),
    });
  }

  /** Outputs enqueued and not yet acknowledged (sent or not). */
  get pending(): number {
    return this.publisher.pending + this.unfed;
  }

  get inFlightCount(): number {
    return this.publisher.inFlight;
  }

  /** Queues a committed batch's outputs and sends what the window allows, synchronously. */
  enqueue(batch: PublishBatch): void {
    const entries = 'entries' in batch ? batch.entries : undefined;
    const reader = 'blob' in batch ? new OutboxReader(batch.blob, this.o.msgIdPrefix) : undefined;
    const count = entries?.length ?? reader!.remaining;
    if (count === 0) {
      this.o.onBatchAcked(batch.seq);
      return;
    }
    const state: BatchState = { seq: batch.seq, sent: 0, remaining: count };
    this.feeds.push({ state, entries, reader, next: 0, left: count });
    this.unfed += count;
    this.feed();
  }

  /** Hands outputs to the window, in order, while it has room. */
  private feed(): void {
    // An ack inside `publish` (an in-process transport) feeds through the outer loop instead.
    if (this.feeding) return;
    this.feeding = true;
    try {
      this.feedNow();
    } finally {
      this.feeding = false;
    }
  }

  private feedNow(): void {
    const prefix = this.o.msgIdPrefix;
    const room = this.o.maxInFlight;
    for (let f = this.feeds.peek(); f !== undefined; f = this.feeds.peek()) {
      while (f.left > 0 && this.publisher.pending < room) {
        f.left -= 1;
        this.unfed -= 1;
        if (f.entries !== undefined) {
          const e = f.entries[f.next++]!;
          this.publisher.publish({ subject: e.subject, data: e.data, headers: e.headers, msgId: `${prefix}${e.seq}.${e.index}` }, f.state);
        } else {
          this.publisher.publishAt(f.reader!, f.reader!.nextAt(), f.state);
        }
      }
      if (f.left > 0) return;
      this.feeds.shift();
    }
  }

  /** Resolves when at most `limit` outputs are pending. */
  whenPendingAtMost(limit: number): Promise<void> {
    if (this.pending <= limit) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ limit, resolve }));
  }

  /** Stops sending and listening; pending outputs stay in the outbox for the next start. */
  close(): void {
    this.publisher.close();
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const pending = this.pending;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (pending <= w.limit) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }
}
