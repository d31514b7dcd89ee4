import { Observable, type SchedulerLike, type Subscriber, type Subscription } from 'rxjs';
import type { LocalStream } from './local-stream.js';
import { localStreamMessage } from './local-stream-message.js';
import type { ConsumerState, StreamMessage } from '../transport.js';
import type { ResolvedConsumeOptions } from '../validate-transport-options.js';

/** Messages handed out per turn before yielding to the event loop. */
const BATCH = 512;

interface Pending {
  deliveryCount: number;
  /** Bumped on every delivery, nak and expiry, so a late deadline or nak of an older delivery is ignored. */
  attempt: number;
  /** Only for a delayed nak; ack waits share one sweep timer. */
  timer: Subscription | undefined;
  /** Set by `working()`: the ack wait of the current delivery runs until then instead. */
  extendedUntil?: number | undefined;
}

interface Deadline {
  readonly seq: number;
  readonly attempt: number;
  readonly at: number;
}

/**
 * A durable pull consumer of a {@link LocalStream}, with the JetStream semantics Sluice relies
 * on: explicit acks, at most `maxInFlight` unacknowledged messages, redelivery after `ackWaitMs`
 * or on `nak` (after its delay), `term` to never redeliver, and a position that outlives the
 * Observables consuming it (for the life of the transport). Several concurrent subscribers share
 * the work round-robin, as several pullers of one NATS consumer do.
 *
 * Redeliveries go out before new messages, so (as on NATS) a redelivered message can arrive after
 * newer ones were delivered.
 *
 * Ack waits: one timer sweeps a queue of deadlines in delivery order (they share `ackWaitMs`, so
 * the queue stays sorted) instead of one timer per message, which cost more than the delivery.
 *
 * Memory: one entry per unacknowledged message (at most `maxInFlight`) plus its deadline; settled
 * messages' deadlines are compacted away once they outnumber the live ones.
 */
export class LocalDurableConsumer {
  private options: ResolvedConsumeOptions;
  /** The next never-delivered sequence. */
  private nextSeq: number;
  private readonly pending = new Map<number, Pending>();
  private readonly redeliver: number[] = [];
  private deadlines: Deadline[] = [];
  private deadlineHead = 0;
  private sweepTimer: Subscription | undefined;
  private readonly subscribers: Subscriber<StreamMessage>[] = [];
  private turn = 0;
  private pumpQueued = false;
  private stopped = false;
  private readonly offAppend: () => void;

  constructor(
    private readonly stream: LocalStream,
    options: ResolvedConsumeOptions,
    private readonly scheduler: SchedulerLike,
  ) {
    this.options = options;
    this.nextSeq = options.startSeq;
    this.offAppend = stream.onAppend(() => this.schedulePump());
  }

  /**
   * Counts as JetStream reports them. `pending` scans the undelivered tail (stats only, never on a
   * message path); redeliveries waiting are counted as ack-pending, as on NATS.
   */
  state(): ConsumerState {
    let pending = 0;
    const filter = this.options.filterSubject;
    for (let seq = this.nextSeq; ; pending++) {
      const found = this.stream.next(seq, filter);
      if (found.message === undefined) break;
      seq = found.nextSeq;
    }
    let redelivered = 0;
    for (const p of this.pending.values()) if (p.deliveryCount > 1) redelivered++;
    return { pending, ackPending: this.pending.size, redelivered };
  }

  /** Applies changed settings of a later `consume` call; the position is kept. */
  reconfigure(options: ResolvedConsumeOptions): void {
    const ackWaitChanged = options.ackWaitMs !== this.options.ackWaitMs;
    this.options = { ...options, startSeq: this.options.startSeq };
    if (ackWaitChanged) {
      // Deadlines from the old and new ack wait interleave; keep the queue sorted for the sweep.
      this.deadlines = this.deadlines.slice(this.deadlineHead).sort((a, b) => a.at - b.at);
      this.deadlineHead = 0;
      this.sweepTimer?.unsubscribe();
      this.sweepTimer = undefined;
      this.armSweep();
    }
  }

  /** Delivers to the returned Observable's subscribers until they unsubscribe. */
  attach(): Observable<StreamMessage> {
    return new Observable<StreamMessage>((subscriber) => {
      if (this.stopped) {
        subscriber.complete();
        return;
      }
      this.subscribers.push(subscriber);
      this.schedulePump();
      return () => {
        const i = this.subscribers.indexOf(subscriber);
        if (i >= 0) this.subscribers.splice(i, 1);
      };
    });
  }

  /** Stops timers and completes subscribers, when the transport closes. */
  stop(): void {
    this.stopped = true;
    this.offAppend();
    this.sweepTimer?.unsubscribe();
    for (const p of this.pending.values()) p.timer?.unsubscribe();
    for (const s of this.subscribers.splice(0)) s.complete();
  }

  private schedulePump(): void {
    if (this.pumpQueued || this.stopped) return;
    this.pumpQueued = true;
    queueMicrotask(() => this.pump());
  }

  private pump(): void {
    this.pumpQueued = false;
    let work = 0;
    while (work < BATCH && !this.stopped && this.subscribers.length > 0) {
      work++;
      const seq = this.redeliver.shift();
      if (seq !== undefined) {
        const entry = this.pending.get(seq);
        if (entry !== undefined) {
          entry.deliveryCount++;
          this.deliver(seq, entry);
        }
        continue;
      }
      if (this.pending.size >= this.options.maxInFlight) break;
      const { message, nextSeq } = this.stream.next(this.nextSeq, this.options.filterSubject, BATCH * 8);
      this.nextSeq = nextSeq;
      if (message === undefined) {
        if (this.stream.state().lastSeq >= nextSeq) continue; // scan limit hit: more to look at
        break;
      }
      const entry: Pending = { deliveryCount: 1, attempt: 0, timer: undefined };
      this.pending.set(message.seq, entry);
      this.deliver(message.seq, entry);
    }
    // Yield to I/O between batches, as a socket-fed consumer would.
    if (work >= BATCH) setImmediate(() => this.schedulePump());
  }

  private deliver(seq: number, entry: Pending): void {
    const stored = this.stream.get(seq);
    if (stored === undefined) {
      // Discarded by a stream limit while unacknowledged: nothing left to deliver.
      this.pending.delete(seq);
      return;
    }
    const attempt = ++entry.attempt;
    this.deadlines.push({ seq, attempt, at: this.scheduler.now() + this.options.ackWaitMs });
    this.armSweep();
    const subscriber = this.subscribers[this.turn++ % this.subscribers.length];
    // Only the first ack/nak/term of a delivery counts, as the NATS client's JsMsg does.
    let acted = false;
    const once =
      <A extends unknown[]>(f: (...args: A) => void) =>
      (...args: A): void => {
        if (acted) return;
        acted = true;
        f(...args);
      };
    subscriber?.next(
      localStreamMessage(this.stream.name, stored, entry.deliveryCount, {
        ack: once(() => this.settle(seq)),
        term: once(() => this.settle(seq)),
        nak: once((delayMs?: number) => this.nak(seq, attempt, delayMs)),
        working: () => {
          if (!acted) this.extend(seq, attempt);
        },
      }),
    );
  }

  /** Ack and term both end the message's life; an ack of an older (un-acted) delivery still counts, as on NATS. */
  private settle(seq: number): void {
    const entry = this.pending.get(seq);
    if (entry === undefined) return;
    entry.timer?.unsubscribe();
    this.pending.delete(seq);
    const queued = this.redeliver.indexOf(seq);
    if (queued >= 0) this.redeliver.splice(queued, 1);
    this.compactDeadlines();
    this.schedulePump();
  }

  private nak(seq: number, attempt: number, delayMs: number | undefined): void {
    const entry = this.pending.get(seq);
    if (entry === undefined || entry.attempt !== attempt) return;
    entry.timer?.unsubscribe();
    const next = ++entry.attempt;
    if (delayMs !== undefined && delayMs > 0) {
      entry.timer = this.scheduler.schedule(() => this.expire(seq, next), delayMs);
    } else {
      entry.timer = undefined;
      this.queueRedelivery(seq);
    }
  }

  /** `working()`: the deadline moves to a full ack wait from now (checked when the old one is due). */
  private extend(seq: number, attempt: number): void {
    const entry = this.pending.get(seq);
    if (entry === undefined || entry.attempt !== attempt) return;
    entry.extendedUntil = this.scheduler.now() + this.options.ackWaitMs;
  }

  private expire(seq: number, attempt: number): void {
    const entry = this.pending.get(seq);
    if (entry === undefined || entry.attempt !== attempt) return;
    if (entry.extendedUntil !== undefined && entry.timer === undefined) {
      const until = entry.extendedUntil;
      entry.extendedUntil = undefined;
      if (until > this.scheduler.now()) {
        this.deadlines.push({ seq, attempt, at: until });
        this.armSweep();
        return;
      }
    }
    entry.timer = undefined;
    entry.attempt++;
    this.queueRedelivery(seq);
  }

  private armSweep(): void {
    if (this.sweepTimer !== undefined || this.stopped) return;
    const next = this.deadlines[this.deadlineHead];
    if (next === undefined) return;
    this.sweepTimer = this.scheduler.schedule(() => this.sweep(), Math.max(0, next.at - this.scheduler.now()));
  }

  private sweep(): void {
    this.sweepTimer = undefined;
    const now = this.scheduler.now();
    for (let d = this.deadlines[this.deadlineHead]; d !== undefined && d.at <= now; d = this.deadlines[this.deadlineHead]) {
      this.deadlineHead++;
      this.expire(d.seq, d.attempt);
    }
    this.compactDeadlines();
    this.armSweep();
  }

  /** Drops deadlines of settled or re-sent deliveries once they dominate, so memory follows what is in flight. */
  private compactDeadlines(): void {
    const queued = this.deadlines.length - this.deadlineHead;
    if (queued === 0) {
      this.deadlines = [];
      this.deadlineHead = 0;
    } else if (this.deadlineHead > 1024 || queued > 2 * this.pending.size + 1024) {
      this.deadlines = this.deadlines.slice(this.deadlineHead).filter((d) => this.pending.get(d.seq)?.attempt === d.attempt);
      this.deadlineHead = 0;
    }
  }

  private queueRedelivery(seq: number): void {
    this.redeliver.push(seq);
    this.schedulePump();
  }
}
