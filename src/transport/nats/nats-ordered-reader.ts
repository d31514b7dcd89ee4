import { AckPolicy, DeliverPolicy, type JetStreamManager } from '@nats-io/jetstream';
import { createInbox, nanos, nuid, type Msg, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import { asyncScheduler, type Subscription as RxSubscription } from 'rxjs';
import { ensureError } from '../../errors.js';
import { FifoBuffer } from '../fifo-buffer.js';
import { NatsOrderedMessage } from './nats-ordered-message.js';
import type { OrderedReader, OrderedReadOptions } from '../transport.js';
import { backoffDelayMs, type BackoffPolicy } from '../../retry/retry-policy.js';

// Re-creating the ordered consumer: 100 ms doubling up to 5 s, until it succeeds or is closed.
const RECREATE_RETRY: Omit<BackoffPolicy, 'maxAttempts'> = { initialDelayMs: 100, maxDelayMs: 5_000, multiplier: 2, jitter: 'none' };

const PULL_EXPIRES_MS = 10_000;
const HEARTBEAT_MS = 2_000;
const encoder = new TextEncoder();
// Wall-clock concerns (heartbeats, retry backoff) against a real server: never a virtual clock.
const scheduler = asyncScheduler;

/**
 * The NATS {@link OrderedReader}: an ephemeral, unacknowledged pull consumer it drives itself,
 * rather than the client's ordered consumer: it only asks the server for more when its buffer has
 * room (the client's `consume()` keeps pulling however slowly messages are taken), it builds no
 * `JsMsg` per message, and it controls the restart position.
 *
 * The position is "last sequence received". On a delivery-sequence gap, missed heartbeats or a
 * reconnect (the consumer lives in server memory and may be gone) it deletes the consumer and
 * creates a new one at `last received + 1`, retrying with backoff until it succeeds or is closed.
 * Memory: at most `maxBuffered` messages.
 */
export class NatsOrderedReader implements OrderedReader {
  private readonly buffer = new FifoBuffer<NatsOrderedMessage>();
  private requested = 0;
  private lastSeq: number;
  private lastDeliverySeq = 0;
  private consumerName = '';
  private sub: Subscription | undefined;
  private lastActivity = 0;
  private monitor: RxSubscription | undefined;
  private statusLoop: { stop?: () => void } | undefined;
  private resetting = false;
  private closed = false;
  private pullSubject = '';

  private readonly namePrefix: string;

  constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly o: OrderedReadOptions,
  ) {
    this.lastSeq = o.startSeq - 1;
    this.namePrefix = o.name ?? 'sluice';
  }

  /** Creates the consumer and starts fetching; rejects if the consumer cannot be created. */
  async start(): Promise<void> {
    await this.createConsumer();
    this.watchStatus();
    this.scheduleHeartbeatCheck();
  }

  /** Buffered messages not yet taken. */
  get size(): number {
    return this.buffer.size;
  }

  /** Last stream sequence received. */
  get position(): number {
    return this.lastSeq;
  }

  /** Removes and returns up to `max` buffered messages, in stream order. */
  take(max: number): NatsOrderedMessage[] {
    const out = this.buffer.take(max);
    this.maybePull();
    return out;
  }

  /** Stops fetching and deletes the consumer; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.monitor?.unsubscribe();
    this.statusLoop?.stop?.();
    this.sub?.unsubscribe();
    const name = this.consumerName;
    if (name !== '' && !this.nc.isClosed()) await this.jsm.consumers.delete(this.o.stream, name).catch(() => false);
  }

  private async createConsumer(): Promise<void> {
    const name = `${this.namePrefix}_${nuid.next()}`;
    await this.jsm.consumers.add(this.o.stream, {
      name,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.lastSeq + 1,
      ack_policy: AckPolicy.None,
      ...(this.o.filterSubject !== undefined ? { filter_subject: this.o.filterSubject } : {}),
      mem_storage: true,
      num_replicas: 1,
      inactive_threshold: nanos(60_000),
    });
    if (this.closed) {
      await this.jsm.consumers.delete(this.o.stream, name).catch(() => false);
      return;
    }
    this.consumerName = name;
    this.pullSubject = `$JS.API.CONSUMER.MSG.NEXT.${this.o.stream}.${name}`;
    this.lastDeliverySeq = 0;
    this.requested = 0;
    const inbox = createInbox();
    this.sub = this.nc.subscribe(inbox, { callback: (_err, msg) => this.onMessage(msg, inbox) });
    this.lastActivity = scheduler.now();
    this.maybePull();
  }

  private onMessage(msg: Msg, inbox: string): void {
    if (this.closed || this.sub?.getSubject() !== inbox) return;
    this.lastActivity = scheduler.now();
    const reply = msg.reply;
    if (reply === undefined || reply === '' || !reply.startsWith('$JS.ACK.')) {
      this.onStatus(msg);
      return;
    }
    // $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>, read from the end.
    const i4 = reply.lastIndexOf('.');
    const i3 = reply.lastIndexOf('.', i4 - 1);
    const i2 = reply.lastIndexOf('.', i3 - 1);
    const i1 = reply.lastIndexOf('.', i2 - 1);
    const seq = Number(reply.slice(i1 + 1, i2));
    const dseq = Number(reply.slice(i2 + 1, i3));
    const tsMs = Number(reply.slice(i3 + 1, i4 - 6));
    if (this.requested > 0) this.requested -= 1;
    if (dseq !== this.lastDeliverySeq + 1 || !(seq > this.lastSeq)) {
      void this.reset(`delivery gap (expected delivery ${this.lastDeliverySeq + 1}, got ${dseq}; stream seq ${seq} after ${this.lastSeq})`);
      return;
    }
    this.lastDeliverySeq = dseq;
    this.lastSeq = seq;
    this.buffer.push(new NatsOrderedMessage(msg.subject, msg.data, msg.headers, this.o.stream, seq, tsMs));
    this.o.onAvailable();
  }

  private onStatus(msg: Msg): void {
    const h = msg.headers;
    const code = h?.code ?? 0;
    if (code === 100) return;
    const left = Number(h?.get('Nats-Pending-Messages') || 0);
    if (code === 408 || code === 404 || (code === 409 && !/deleted/i.test(h?.description ?? ''))) {
      this.requested = Math.max(0, this.requested - left);
      this.maybePull();
      return;
    }
    void this.reset(`consumer status ${code} ${h?.description ?? ''}`.trim());
  }

  private maybePull(): void {
    if (this.closed || this.resetting || this.sub === undefined) return;
    const room = this.o.maxBuffered - this.size - this.requested;
    // Pull in chunks of at least half the buffer: fewer, larger requests.
    if (room < Math.max(1, this.o.maxBuffered >> 1)) return;
    this.requested += room;
    const req = { batch: room, expires: nanos(PULL_EXPIRES_MS), idle_heartbeat: nanos(HEARTBEAT_MS) };
    this.nc.publish(this.pullSubject, encoder.encode(JSON.stringify(req)), { reply: this.sub.getSubject() });
  }

  private scheduleHeartbeatCheck(): void {
    this.monitor?.unsubscribe();
    this.monitor = scheduler.schedule(() => {
      if (this.closed) return;
      const silentMs = scheduler.now() - this.lastActivity;
      if (!this.resetting && this.requested > 0 && silentMs > 2 * HEARTBEAT_MS + 500) {
        void this.reset(`no message or heartbeat for ${silentMs} ms`);
      }
      this.scheduleHeartbeatCheck();
    }, HEARTBEAT_MS);
  }

  private watchStatus(): void {
    const it = this.nc.status();
    this.statusLoop = it as { stop?: () => void };
    void (async () => {
      for await (const s of it) {
        if (this.closed) break;
        if (s.type === 'reconnect') void this.reset('reconnected (the server may have lost the consumer)');
      }
    })().catch(() => undefined);
  }

  private async reset(reason: string): Promise<void> {
    if (this.resetting || this.closed) return;
    this.resetting = true;
    this.o.onReset?.({ reason, nextSeq: this.lastSeq + 1 });
    this.sub?.unsubscribe();
    this.sub = undefined;
    const old = this.consumerName;
    if (old !== '') void this.jsm.consumers.delete(this.o.stream, old).catch(() => false);
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        await this.createConsumer();
        break;
      } catch (err) {
        const delay = backoffDelayMs(attempt + 1, RECREATE_RETRY);
        this.o.onRetry?.({ error: ensureError(err), attempt, retryInMs: delay });
        await new Promise<void>((resolve) => scheduler.schedule(() => resolve(), delay));
      }
    }
    this.resetting = false;
    this.maybePull();
  }
}
