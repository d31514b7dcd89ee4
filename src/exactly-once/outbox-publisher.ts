import type { SchedulerLike } from 'rxjs';
import type { AckPublisher, Transport } from '../transport/transport.js';
import type { OutboxEntry } from './outbox-codec.js';
import type { Logger } from '../logger.js';
import type { FaultContext } from './types.js';

/** A committed batch's outputs on their way to JetStream. */
export interface PublishBatch {
  /** The outbox key: the batch's last input sequence. */
  readonly seq: number;
  readonly entries: readonly OutboxEntry[];
}

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

/**
 * Publishes committed outbox records through the transport's {@link AckPublisher} (window of
 * `maxInFlight`, re-sends under the same `Nats-Msg-Id` after an ack timeout, a server error or a
 * reconnect) and tells the engine when every output of a record is acknowledged, so the record
 * can be removed. A record's outputs are handed over in one synchronous loop, which lets the NATS
 * client coalesce the socket writes.
 */
export class OutboxPublisher {
  private readonly publisher: AckPublisher<BatchState>;
  private readonly waiters: { limit: number; resolve: () => void }[] = [];

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
    return this.publisher.pending;
  }

  get inFlightCount(): number {
    return this.publisher.inFlight;
  }

  /** Queues a committed batch's outputs and sends what the window allows, synchronously. */
  enqueue(batch: PublishBatch): void {
    if (batch.entries.length === 0) {
      this.o.onBatchAcked(batch.seq);
      return;
    }
    const b: BatchState = { seq: batch.seq, sent: 0, remaining: batch.entries.length };
    const prefix = this.o.msgIdPrefix;
    for (const e of batch.entries) {
      this.publisher.publish({ subject: e.subject, data: e.data, headers: e.headers, msgId: `${prefix}${e.seq}.${e.index}` }, b);
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
