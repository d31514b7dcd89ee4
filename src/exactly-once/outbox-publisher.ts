import { createInbox, headers as natsHeaders, type Msg, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import type { SchedulerLike, Subscription as RxSubscription } from 'rxjs';
import { HEADERS } from '../envelope/envelope.js';
import type { OutboxEntry } from './outbox-codec.js';
import type { ExactlyOnceLogger, FaultContext } from './types.js';

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
  nc: NatsConnection;
  /** `<topology>.<engine>.`; an entry's id is this + `<seq>.<index>`. */
  msgIdPrefix: string;
  maxInFlight: number;
  ackTimeoutMs: number;
  scheduler: SchedulerLike;
  logger: ExactlyOnceLogger;
  counters: PublisherCounters;
  /** A batch's outputs are all acknowledged: its outbox record may go. */
  onBatchAcked: (seq: number) => void;
  /** Something failed where no caller can catch it (a fault hook, mostly). */
  onFatal: (err: unknown) => void;
  faults?: ((ctx: FaultContext) => void) | undefined;
}

interface Tracked {
  readonly batch: BatchState;
  readonly entry: OutboxEntry;
  sentAt: number;
  attempts: number;
  retrying: boolean;
}

interface BatchState {
  readonly seq: number;
  readonly entries: readonly OutboxEntry[];
  next: number;
  remaining: number;
}

const PUB_ACK_E = 0x65; // 'e' of `"error"` at byte 2, and of `true}` (duplicate) at the end

/**
 * Publishes outbox entries with core `nc.publish(subject, data, { reply, headers })` and collects
 * JetStream's publish acks on ONE wildcard inbox subscription, instead of `js.publish()` (which
 * builds an Error per call; about half the rate on this machine). At most `maxInFlight` outputs
 * are unacknowledged; a batch is sent in one synchronous loop so the client coalesces the socket
 * writes.
 *
 * Every send carries `Nats-Msg-Id`, so sending again is safe inside the stream's duplicate window:
 * outputs are re-sent (same id) when their ack does not come within `ackTimeoutMs`, after a
 * server error (with backoff) and, in their original order, after a reconnect. While disconnected
 * nothing new is sent, so after a reconnect the re-sends go out before anything newer.
 */
export class OutboxPublisher {
  private readonly queue: BatchState[] = [];
  private readonly inFlight = new Map<number, Tracked>();
  private readonly ackPrefix = createInbox();
  private readonly sub: Subscription;
  private sweeper: RxSubscription | undefined;
  private readonly waiters: { limit: number; resolve: () => void }[] = [];
  private token = 0;
  private unsent = 0;
  private paused = false;
  private closed = false;
  private statusLoop: { stop?: () => void } | undefined;

  constructor(private readonly o: OutboxPublisherOptions) {
    this.sub = o.nc.subscribe(`${this.ackPrefix}.*`, { callback: (_err, msg) => this.guard(() => this.onAck(msg)) });
    this.scheduleSweep();
    this.watchStatus();
  }

  /** Outputs enqueued and not yet acknowledged (sent or not). */
  get pending(): number {
    return this.unsent + this.inFlight.size;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Queues a committed batch's outputs and sends what the window allows, synchronously. */
  enqueue(batch: PublishBatch): void {
    if (batch.entries.length === 0) {
      this.o.onBatchAcked(batch.seq);
      return;
    }
    this.queue.push({ seq: batch.seq, entries: batch.entries, next: 0, remaining: batch.entries.length });
    this.unsent += batch.entries.length;
    this.pump();
  }

  /** Resolves when at most `limit` outputs are pending. */
  whenPendingAtMost(limit: number): Promise<void> {
    if (this.pending <= limit) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ limit, resolve }));
  }

  /** Stops sending and listening; pending outputs stay in the outbox for the next start. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sweeper?.unsubscribe();
    this.statusLoop?.stop?.();
    this.sub.unsubscribe();
  }

  private pump(): void {
    while (!this.paused && !this.closed && this.inFlight.size < this.o.maxInFlight) {
      const b = this.queue[0];
      if (b === undefined) return;
      const entry = b.entries[b.next]!;
      this.o.faults?.({ point: 'mid-publish', seq: b.seq, published: b.next });
      b.next += 1;
      this.unsent -= 1;
      if (b.next >= b.entries.length) this.queue.shift();
      this.send({ batch: b, entry, sentAt: 0, attempts: 0, retrying: false });
    }
  }

  private send(t: Tracked): void {
    if (this.closed) return;
    this.token += 1;
    this.inFlight.set(this.token, t);
    t.sentAt = this.o.scheduler.now();
    t.attempts += 1;
    const e = t.entry;
    const h = natsHeaders();
    if (e.headers !== undefined) for (const k in e.headers) h.set(k, e.headers[k]!);
    h.set(HEADERS.msgId, `${this.o.msgIdPrefix}${e.seq}.${e.index}`);
    this.o.nc.publish(e.subject, e.data, { reply: `${this.ackPrefix}.${this.token}`, headers: h });
  }

  private onAck(msg: Msg): void {
    const token = Number(msg.subject.slice(this.ackPrefix.length + 1));
    const t = this.inFlight.get(token);
    if (t === undefined) return; // an ack for a send that was superseded by a re-send
    const d = msg.data;
    const noResponders = msg.headers?.code === 503;
    if (noResponders || d.length < 3 || d[2] === PUB_ACK_E) {
      this.o.counters.publishErrors += 1;
      const detail = noResponders ? 'no stream captures the subject (503 no responders)' : new TextDecoder().decode(d);
      const delay = Math.min(5_000, 250 * 2 ** Math.min(t.attempts - 1, 5));
      if (this.o.counters.publishErrors % 100 === 1) {
        this.o.logger.warn({ subject: t.entry.subject, seq: t.entry.seq, attempts: t.attempts, retryInMs: delay, error: detail, errors: this.o.counters.publishErrors }, 'exactly-once output rejected by the server; retrying');
      }
      t.retrying = true;
      this.o.scheduler.schedule(() => {
        this.guard(() => {
          if (this.inFlight.get(token) !== t || this.paused) return;
          this.inFlight.delete(token);
          t.retrying = false;
          this.o.counters.resent += 1;
          this.send(t);
        });
      }, delay);
      return;
    }
    this.inFlight.delete(token);
    this.o.counters.acked += 1;
    if (d[d.length - 2] === PUB_ACK_E) this.o.counters.duplicates += 1;
    t.batch.remaining -= 1;
    if (t.batch.remaining === 0) this.o.onBatchAcked(t.batch.seq);
    this.pump();
    this.wake();
  }

  private scheduleSweep(): void {
    this.sweeper = this.o.scheduler.schedule(() => {
      this.guard(() => this.sweep());
      if (!this.closed) this.scheduleSweep();
    }, Math.max(50, this.o.ackTimeoutMs / 2));
  }

  private sweep(): void {
    if (this.paused || this.closed) return;
    const cutoff = this.o.scheduler.now() - this.o.ackTimeoutMs;
    const late: [number, Tracked][] = [];
    for (const entry of this.inFlight) if (!entry[1].retrying && entry[1].sentAt <= cutoff) late.push(entry);
    if (late.length === 0) return;
    this.o.logger.warn({ outputs: late.length, ackTimeoutMs: this.o.ackTimeoutMs }, 'exactly-once outputs not acknowledged in time; re-sending them under the same ids');
    this.resend(late);
  }

  /** Re-sends in the original order (map insertion order), each under a new token. */
  private resend(list: [number, Tracked][]): void {
    for (const [token] of list) this.inFlight.delete(token);
    for (const [, t] of list) {
      t.retrying = false;
      this.o.counters.resent += 1;
      this.send(t);
    }
  }

  private watchStatus(): void {
    const it = this.o.nc.status();
    this.statusLoop = it as { stop?: () => void };
    void (async () => {
      for await (const s of it) {
        if (this.closed) break;
        if (s.type === 'disconnect') this.paused = true;
        if (s.type === 'reconnect') {
          this.paused = false;
          this.guard(() => {
            this.resend([...this.inFlight]);
            this.pump();
          });
        }
      }
    })().catch(() => undefined);
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

  private guard(fn: () => void): void {
    if (this.closed) return;
    try {
      fn();
    } catch (err) {
      this.o.onFatal(err);
    }
  }
}
