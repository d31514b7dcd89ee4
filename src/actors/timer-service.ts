import { asyncScheduler, type SchedulerLike, type Subscription } from 'rxjs';
import { msgpackCodec } from '../codec/msgpack-codec.js';
import { HEADERS } from '../envelope/envelope.js';
import { ensureError, InvalidConfigError } from '../errors.js';
import type { Transport } from '../transport/transport.js';
import type { TimerFiring } from './actor-processor.js';
import { keyToken, type ActorSubjects } from './actor-subjects.js';
import type { Logger } from '../logger.js';
import type { StoredTimer, TimerListener } from './types.js';

/** Options of {@link TimerService}. */
export interface TimerServiceOptions {
  subjects: ActorSubjects;
  /** JetStream publish with a message id (a `Transport`'s `publishDurable`). */
  publish: Transport['publishDurable'];
  /**
   * All timers committed in LMDB (a scan of the actor's timers namespace). Called on `start()`
   * and again when timers had to be left out of memory and the ones in memory are done.
   */
  load: () => Iterable<StoredTimer>;
  /** Default `asyncScheduler`. */
  scheduler?: SchedulerLike | undefined;
  /** Timers held in memory at most; the nearest are kept, the rest reloaded later. Default 100000. */
  maxTimersInMemory?: number | undefined;
  /** Firings awaiting their publish ack at most. Default 256. */
  maxInFlight?: number | undefined;
  /** Wait before re-publishing a firing whose publish failed, ms. Default 1000. */
  retryMs?: number | undefined;
  logger?: Logger | undefined;
}

/** `live` turns false when the timer is cancelled, replaced or done; `publishing` while its firing awaits the ack. */
type Slot = { readonly timer: StoredTimer; notBefore: number; live: boolean; publishing: boolean };

// asyncScheduler delays go to setInterval, which fires at once past 2^31-1 ms; wake up sooner and look again.
const MAX_SLEEP_MS = 3_600_000;

/**
 * Fires an actor's durable timers. It holds the nearest timers in memory (a min-heap by due
 * time, at most `maxTimersInMemory`) and, when one is due, publishes a firing message on the
 * actor's `<prefix>.<topology>.<actor>.<key>.timer` subject, which the input stream captures.
 *
 * Exactly-once comes from the processor, not from here: the firing is an input message like any
 * other, and the processor delivers it only if the stored timer still has the firing's
 * `instance`, deleting the timer in the same transaction as the state change. So publishing a
 * firing twice (after a restart, or after a failed publish) is harmless; the deterministic
 * message id (`<actor>:<key>:<timerId>:<instance>`) merely lets the server drop the copy.
 *
 * It is told about new and cancelled timers as batches are processed (it is the processor's
 * `TimerListener`) and loads all stored timers on `start()`, so timers survive restarts.
 */
export class TimerService implements TimerListener {
  private readonly heap: Slot[] = [];
  private readonly byId = new Map<string, Slot>();
  private readonly scheduler: SchedulerLike;
  private readonly maxInMemory: number;
  private readonly maxInFlight: number;
  private readonly retryMs: number;
  private readonly logger: Logger | undefined;
  private wake: Subscription | undefined;
  private wakeAt = Infinity;
  private inFlight = 0;
  /** Timers due after this were left in LMDB only; Infinity when everything is in memory. */
  private horizon = Infinity;
  private running = false;
  private published = 0;

  constructor(private readonly options: TimerServiceOptions) {
    this.scheduler = options.scheduler ?? asyncScheduler;
    this.maxInMemory = options.maxTimersInMemory ?? 100_000;
    this.maxInFlight = options.maxInFlight ?? 256;
    this.retryMs = options.retryMs ?? 1_000;
    this.logger = options.logger;
    if (!Number.isInteger(this.maxInMemory) || this.maxInMemory < 1) {
      throw new InvalidConfigError('TimerService', 'maxTimersInMemory', `must be an integer >= 1, got ${this.maxInMemory}`);
    }
  }

  /** Timers in memory now. */
  get size(): number {
    return this.byId.size;
  }

  /** Firings published (acked) so far. */
  get firings(): number {
    return this.published;
  }

  /** Loads the stored timers and starts firing them (past-due ones at once). */
  start(): void {
    this.running = true;
    this.reload();
  }

  /** Stops firing; in-flight publishes finish on their own. */
  stop(): void {
    this.running = false;
    this.wake?.unsubscribe();
    this.wake = undefined;
    this.wakeAt = Infinity;
  }

  set(timer: StoredTimer): void {
    this.remove(timer.key, timer.timerId);
    if (timer.dueAt > this.horizon) return;
    this.insert(timer);
    this.trim();
    this.arm();
  }

  cancel(key: string, timerId: string): void {
    this.remove(key, timerId);
  }

  private reload(): void {
    for (const slot of this.byId.values()) slot.live = false;
    this.byId.clear();
    this.heap.length = 0;
    this.horizon = Infinity;
    for (const timer of this.options.load()) {
      this.insert(timer);
      if (this.byId.size > this.maxInMemory * 2) this.trim();
    }
    this.trim();
    this.arm();
  }

  private insert(timer: StoredTimer): void {
    const slot: Slot = { timer, notBefore: timer.dueAt, live: true, publishing: false };
    this.byId.set(idOf(timer.key, timer.timerId), slot);
    this.push(slot);
  }

  private remove(key: string, timerId: string): void {
    const id = idOf(key, timerId);
    const slot = this.byId.get(id);
    if (slot === undefined) return;
    slot.live = false;
    this.byId.delete(id);
  }

  /** Keeps the `maxInMemory` nearest timers; the horizon remembers that later ones exist. */
  private trim(): void {
    if (this.byId.size <= this.maxInMemory) return;
    const keep = [...this.byId.values()].filter((s) => !s.publishing).sort((a, b) => a.notBefore - b.notBefore);
    const dropped = keep.splice(this.maxInMemory);
    for (const slot of dropped) {
      slot.live = false;
      this.byId.delete(idOf(slot.timer.key, slot.timer.timerId));
    }
    const last = keep[keep.length - 1];
    if (last !== undefined) this.horizon = Math.min(this.horizon, last.notBefore);
    this.heap.length = 0;
    for (const slot of keep) this.heap.push(slot);
  }

  /** Schedules one wake-up for the nearest live timer. */
  private arm(): void {
    if (!this.running) return;
    while (this.heap.length > 0 && !this.heap[0]!.live) this.pop();
    const next = this.heap[0];
    if (next === undefined) {
      if (this.horizon !== Infinity && this.inFlight === 0) this.reload();
      return;
    }
    // A full window is refilled by the publish completions; a wake-up now would only spin.
    if (next.notBefore >= this.wakeAt || this.inFlight >= this.maxInFlight) return;
    this.wake?.unsubscribe();
    this.wakeAt = next.notBefore;
    const delay = Math.min(MAX_SLEEP_MS, Math.max(0, next.notBefore - this.scheduler.now()));
    this.wake = this.scheduler.schedule(() => {
      this.wake = undefined;
      this.wakeAt = Infinity;
      this.fireDue();
    }, delay);
  }

  private fireDue(): void {
    const now = this.scheduler.now();
    while (this.running && this.inFlight < this.maxInFlight && this.heap.length > 0) {
      const top = this.heap[0]!;
      if (!top.live) {
        this.pop();
        continue;
      }
      if (top.notBefore > now) break;
      this.pop();
      this.publish(top);
    }
    this.arm();
  }

  private publish(slot: Slot): void {
    const { timer } = slot;
    const subject = this.options.subjects.timer(timer.key);
    const firing: TimerFiring = { timerId: timer.timerId, instance: timer.instance, dueAt: timer.dueAt, payload: timer.payload };
    const msgId = `${this.options.subjects.base}:${keyToken(timer.key)}:${timer.timerId}:${timer.instance}`;
    this.inFlight += 1;
    slot.publishing = true;
    let pending: Promise<unknown>;
    try {
      pending = this.options.publish(subject, msgpackCodec.encode(firing), { msgId, headers: { [HEADERS.contentType]: msgpackCodec.contentType } });
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(
      () => {
        this.inFlight -= 1;
        this.published += 1;
        if (slot.live) this.byId.delete(idOf(timer.key, timer.timerId));
        slot.live = false;
        this.fireDue();
      },
      (err: unknown) => {
        this.inFlight -= 1;
        slot.publishing = false;
        this.logger?.warn({ subject, timerId: timer.timerId, err: ensureError(err).message }, 'timer firing publish failed; will retry');
        if (slot.live) {
          slot.notBefore = this.scheduler.now() + this.retryMs;
          this.push(slot);
        }
        this.fireDue();
      },
    );
  }

  private push(slot: Slot): void {
    const h = this.heap;
    h.push(slot);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]!.notBefore <= slot.notBefore) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = slot;
  }

  private pop(): Slot | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && h[r]!.notBefore < h[l]!.notBefore ? r : l;
      if (h[c]!.notBefore >= last.notBefore) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
    return top;
  }
}

function idOf(key: string, timerId: string): string {
  return `${keyToken(key)}/${timerId}`;
}
