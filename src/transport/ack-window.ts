import { asyncScheduler, type SchedulerLike, type Subscription } from 'rxjs';
import { ensureError, InvalidConfigError } from '../errors.js';
import { FifoBuffer } from './fifo-buffer.js';
import type { AckPublisher, AckPublisherConfig, AckPublishMessage } from './transport.js';
import { backoffDelayMs, type BackoffPolicy } from '../retry/retry-policy.js';

// A publish the server refused (e.g. a full stream) is sent again: 250 ms doubling up to 5 s, no
// jitter (one publisher's own messages, in order).
// The ack info passed to onAck: two shared objects, not one per ack.
const ACKED = Object.freeze({ duplicate: false });
const ACKED_DUPLICATE = Object.freeze({ duplicate: true });
const REJECTED_RETRY: Omit<BackoffPolicy, 'maxAttempts'> = { initialDelayMs: 250, maxDelayMs: 5_000, multiplier: 2, jitter: 'none' };

/** What a transport's wire part reports back to the {@link AckWindow} it serves. */
export interface AckEvents {
  /** The stream stored the message sent under `ackId`. */
  ack(ackId: number, duplicate: boolean): void;
  /** The server refused the message sent under `ackId`. */
  reject(ackId: number, error: string): void;
  /** The connection is down: send nothing until `resume`. */
  pause(): void;
  /** The connection is back: what was in flight may be lost, send it again. */
  resume(): void;
}

/** A transport's wire part: sends one message asking for its ack under `ackId`. */
export interface AckWire {
  send(message: AckPublishMessage, ackId: number): void;
  close(): void;
}

interface Tracked<T> {
  readonly message: AckPublishMessage;
  readonly token: T;
  sentAt: number;
  attempts: number;
  /** Refused by the server and waiting for its backoff: the timeout sweep leaves it alone. */
  retrying: boolean;
}

/**
 * The transport-independent part of an {@link AckPublisher}: the queue, the window of at most
 * `maxInFlight` unacknowledged sends, the ack-timeout sweep and the re-sends. Each send gets a
 * fresh `ackId`; an ack for a superseded id is ignored, so a late ack of the first send and the
 * ack of its re-send never count twice. The wire part (`connect`) only sends and reports acks.
 */
export class AckWindow<T> implements AckPublisher<T> {
  private readonly queue = new FifoBuffer<Tracked<T>>();
  private readonly sent = new Map<number, Tracked<T>>();
  private readonly maxInFlight: number;
  private readonly ackTimeoutMs: number;
  private readonly scheduler: SchedulerLike;
  private readonly wire: AckWire;
  private sweeper: Subscription | undefined;
  private lastAckId = 0;
  private paused = false;
  private closed = false;

  constructor(
    private readonly config: AckPublisherConfig<T>,
    connect: (events: AckEvents) => AckWire,
  ) {
    this.maxInFlight = config.maxInFlight ?? 4096;
    this.ackTimeoutMs = config.ackTimeoutMs ?? 5000;
    if (!Number.isInteger(this.maxInFlight) || this.maxInFlight < 1) {
      throw new InvalidConfigError('ackPublisher', 'maxInFlight', `must be an integer >= 1, got ${this.maxInFlight}`);
    }
    if (!(this.ackTimeoutMs > 0)) throw new InvalidConfigError('ackPublisher', 'ackTimeoutMs', `must be a duration > 0 in ms, got ${this.ackTimeoutMs}`);
    this.scheduler = config.scheduler ?? asyncScheduler;
    this.wire = connect({
      ack: (id, duplicate) => this.guard(() => this.onAck(id, duplicate)),
      reject: (id, error) => this.guard(() => this.onReject(id, error)),
      pause: () => void (this.paused = true),
      resume: () => this.guard(() => this.onResume()),
    });
    this.scheduleSweep();
  }

  get pending(): number {
    return this.queue.size + this.sent.size;
  }

  get inFlight(): number {
    return this.sent.size;
  }

  publish(message: AckPublishMessage, token: T): void {
    if (this.closed) return;
    this.queue.push({ message, token, sentAt: 0, attempts: 0, retrying: false });
    // Inline rather than `guard`: this runs once per message, a closure each would add up.
    try {
      this.pump();
    } catch (err) {
      this.fail(err);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sweeper?.unsubscribe();
    this.wire.close();
  }

  private pump(): void {
    let now: number | undefined;
    for (let t = this.queue.peek(); t !== undefined && !this.paused && !this.closed && this.sent.size < this.maxInFlight; t = this.queue.peek()) {
      // Called before the message leaves the queue: if it throws, the message was never sent.
      this.config.beforeSend?.(t.token);
      this.queue.shift();
      // One clock read per burst: the sends of one synchronous loop leave together.
      this.send(t, (now ??= this.scheduler.now()));
    }
  }

  private send(t: Tracked<T>, now = this.scheduler.now()): void {
    if (this.closed) return;
    const id = ++this.lastAckId;
    this.sent.set(id, t);
    t.sentAt = now;
    t.attempts += 1;
    this.wire.send(t.message, id);
  }

  private onAck(id: number, duplicate: boolean): void {
    const t = this.sent.get(id);
    if (t === undefined) return; // an ack for a send that was superseded by a re-send
    this.sent.delete(id);
    this.config.onAck(t.token, duplicate ? ACKED_DUPLICATE : ACKED);
    this.pump();
  }

  private onReject(id: number, error: string): void {
    const t = this.sent.get(id);
    if (t === undefined) return;
    const retryInMs = backoffDelayMs(t.attempts, REJECTED_RETRY);
    t.retrying = true;
    this.config.onRejected?.(t.token, { message: t.message, error, attempts: t.attempts, retryInMs });
    this.scheduler.schedule(() => {
      this.guard(() => {
        // Superseded (re-sent after a reconnect) or paused: the reconnect re-sends it.
        if (this.sent.get(id) !== t || this.paused) return;
        this.sent.delete(id);
        t.retrying = false;
        this.config.onResent?.({ count: 1, reason: 'rejected' });
        this.send(t);
      });
    }, retryInMs);
  }

  private scheduleSweep(): void {
    this.sweeper = this.scheduler.schedule(
      () => {
        this.guard(() => this.sweep());
        if (!this.closed) this.scheduleSweep();
      },
      Math.max(50, this.ackTimeoutMs / 2),
    );
  }

  private sweep(): void {
    if (this.paused || this.closed) return;
    const cutoff = this.scheduler.now() - this.ackTimeoutMs;
    const late: [number, Tracked<T>][] = [];
    for (const entry of this.sent) if (!entry[1].retrying && entry[1].sentAt <= cutoff) late.push(entry);
    if (late.length === 0) return;
    this.config.onResent?.({ count: late.length, reason: 'timeout' });
    this.resend(late);
  }

  private onResume(): void {
    this.paused = false;
    if (this.sent.size > 0) {
      this.config.onResent?.({ count: this.sent.size, reason: 'reconnect' });
      this.resend([...this.sent]);
    }
    this.pump();
  }

  /** Re-sends in the original order (map insertion order), each under a new ack id. */
  private resend(list: [number, Tracked<T>][]): void {
    for (const [id] of list) this.sent.delete(id);
    for (const [, t] of list) {
      t.retrying = false;
      this.send(t);
    }
  }

  private guard(fn: () => void): void {
    if (this.closed) return;
    try {
      fn();
    } catch (err) {
      this.fail(err);
    }
  }

  private fail(err: unknown): void {
    if (this.closed) return;
    this.close();
    this.config.onFailure(ensureError(err));
  }
}
