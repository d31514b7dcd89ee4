import { asyncScheduler, type SchedulerLike, type Subscription } from 'rxjs';
import { ensureError, InvalidConfigError } from '../errors.js';
import { FifoBuffer } from './fifo-buffer.js';
import type { AckMessageSource, AckPublisher, AckPublisherConfig, AckPublishMessage } from './transport.js';
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

/** Slots start at this many and double as needed (a slot per message queued or in flight). */
const INITIAL_SLOTS = 64;
/** `at` of a slot holding a whole message rather than a place in a source. */
const WHOLE = -1;

/**
 * The transport-independent part of an {@link AckPublisher}: the queue, the window of at most
 * `maxInFlight` unacknowledged sends, the ack-timeout sweep and the re-sends. Each send gets a
 * fresh `ackId`; an ack for a superseded id is ignored, so a late ack of the first send and the
 * ack of its re-send never count twice. The wire part (`connect`) only sends and reports acks.
 *
 * A message queued or in flight lives in a numbered slot of parallel arrays (its message or
 * source and place, token, send time, attempts) rather than in an object of its own: a window of
 * thousands of messages that each live for a round trip would otherwise outlive young-generation
 * collections and be copied, which the exactly-once bench measured as GC time per output.
 */
export class AckWindow<T> implements AckPublisher<T> {
  /** Slots waiting to be sent, in order. */
  private readonly queue = new FifoBuffer<number>();
  /** ackId → slot of each message sent and not yet acknowledged, in send order. */
  private readonly sent = new Map<number, number>();
  private messages = new Array<AckPublishMessage | AckMessageSource | undefined>(INITIAL_SLOTS);
  private tokens = new Array<T | undefined>(INITIAL_SLOTS);
  /** Place in the slot's source, or {@link WHOLE}. */
  private at = new Float64Array(INITIAL_SLOTS);
  private sentAt = new Float64Array(INITIAL_SLOTS);
  private attempts = new Uint32Array(INITIAL_SLOTS);
  /** 1 = refused by the server and waiting for its backoff: the timeout sweep leaves it alone. */
  private retrying = new Uint8Array(INITIAL_SLOTS);
  /** Slots not in use (a stack). */
  private readonly free: number[] = [];
  private slots = 0;
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
      // Not through `guard`: once per message, a closure each would add up.
      ack: (id, duplicate) => {
        if (this.closed) return;
        try {
          this.onAck(id, duplicate);
        } catch (err) {
          this.fail(err);
        }
      },
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
    this.enqueue(message, WHOLE, token);
  }

  publishAt(source: AckMessageSource, at: number, token: T): void {
    this.enqueue(source, at, token);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sweeper?.unsubscribe();
    this.wire.close();
  }

  private enqueue(message: AckPublishMessage | AckMessageSource, at: number, token: T): void {
    if (this.closed) return;
    const slot = this.free.length > 0 ? this.free.pop()! : this.newSlot();
    this.messages[slot] = message;
    this.tokens[slot] = token;
    this.at[slot] = at;
    this.attempts[slot] = 0;
    this.retrying[slot] = 0;
    this.queue.push(slot);
    // Inline rather than `guard`: this runs once per message, a closure each would add up.
    try {
      this.pump();
    } catch (err) {
      this.fail(err);
    }
  }

  private newSlot(): number {
    const slot = this.slots++;
    if (slot === this.at.length) {
      const n = 2 * slot;
      this.at = grow(new Float64Array(n), this.at);
      this.sentAt = grow(new Float64Array(n), this.sentAt);
      this.attempts = grow(new Uint32Array(n), this.attempts);
      this.retrying = grow(new Uint8Array(n), this.retrying);
      this.messages.length = n;
      this.tokens.length = n;
    }
    return slot;
  }

  private release(slot: number): void {
    this.messages[slot] = undefined;
    this.tokens[slot] = undefined;
    this.free.push(slot);
  }

  /** The slot's message; one from a source is valid until the next read of that source. */
  private message(slot: number): AckPublishMessage {
    const at = this.at[slot]!;
    const m = this.messages[slot]!;
    return at === WHOLE ? (m as AckPublishMessage) : (m as AckMessageSource).messageAt(at);
  }

  private pump(): void {
    let now: number | undefined;
    for (let slot = this.queue.peek(); slot !== undefined && !this.paused && !this.closed && this.sent.size < this.maxInFlight; slot = this.queue.peek()) {
      // Called before the message leaves the queue: if it throws, the message was never sent.
      this.config.beforeSend?.(this.tokens[slot]!);
      this.queue.shift();
      // One clock read per burst: the sends of one synchronous loop leave together.
      this.send(slot, (now ??= this.scheduler.now()));
    }
  }

  private send(slot: number, now = this.scheduler.now()): void {
    if (this.closed) return;
    const id = ++this.lastAckId;
    this.sent.set(id, slot);
    this.sentAt[slot] = now;
    this.attempts[slot] = this.attempts[slot]! + 1;
    this.wire.send(this.message(slot), id);
  }

  private onAck(id: number, duplicate: boolean): void {
    const slot = this.sent.get(id);
    if (slot === undefined) return; // an ack for a send that was superseded by a re-send
    this.sent.delete(id);
    const token = this.tokens[slot]!;
    this.release(slot);
    this.config.onAck(token, duplicate ? ACKED_DUPLICATE : ACKED);
    this.pump();
  }

  private onReject(id: number, error: string): void {
    const slot = this.sent.get(id);
    if (slot === undefined) return;
    const attempts = this.attempts[slot]!;
    const retryInMs = backoffDelayMs(attempts, REJECTED_RETRY);
    this.retrying[slot] = 1;
    this.config.onRejected?.(this.tokens[slot]!, { message: this.message(slot), error, attempts, retryInMs });
    this.scheduler.schedule(() => {
      this.guard(() => {
        // Superseded (re-sent after a reconnect) or paused: the reconnect re-sends it.
        if (this.sent.get(id) !== slot || this.paused) return;
        this.sent.delete(id);
        this.retrying[slot] = 0;
        this.config.onResent?.({ count: 1, reason: 'rejected' });
        this.send(slot);
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
    const late: [number, number][] = [];
    for (const entry of this.sent) if (this.retrying[entry[1]] === 0 && this.sentAt[entry[1]]! <= cutoff) late.push(entry);
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
  private resend(list: [number, number][]): void {
    for (const [id] of list) this.sent.delete(id);
    for (const [, slot] of list) {
      this.retrying[slot] = 0;
      this.send(slot);
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

function grow<A extends Float64Array | Uint32Array | Uint8Array>(into: A, from: A): A {
  into.set(from);
  return into;
}
