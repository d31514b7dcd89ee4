import type { Subscription } from 'rxjs';
import { ensureError } from '../../src/errors.js';
import type { GroupLog, RecordedGroup } from '../../src/settle/group-log.js';
import { holdCurrent } from '../../src/settle/settle-scope.js';
import { Settlement } from '../../src/settle/settlement.js';
import { BatchAccumulator, type BatchCutReason, type BatchLimits } from './batch-accumulator.js';

/** A batch ready to go downstream, with the settlement that holds its members' inputs. */
export interface HeldBatch<T> {
  readonly values: T[];
  /**
   * Holds every member's input until released by the emitter (and by whatever downstream holds
   * it); undefined when no member came with a settlement (a core subject, a plain Observable).
   * Its key is the recorded group's key when the grouping is recorded.
   */
  readonly settlement: Settlement | undefined;
  /** Every member has a settlement: a failed batch can be redelivered instead of ending the stream. */
  readonly allHeld: boolean;
  /** Members without a settlement (nothing upstream bounds them). */
  readonly unheld: number;
  readonly reason: BatchCutReason | 'replay' | 'regroup';
}

interface Entry<T> {
  readonly value: T;
  readonly held: Settlement | undefined;
  /** Later deliveries of the same input (recorded mode), released with the group. */
  extra?: Settlement[];
}

interface Replay<T> {
  readonly group: RecordedGroup;
  readonly arrived: Map<string, Entry<T>>;
  readonly timer: Subscription;
}

/**
 * The settle-aware heart of `microBatch` and `microBatchProcess`: cuts values into batches like
 * {@link BatchAccumulator}, holding each value's input until the batch it joined has been emitted
 * and released (see `Settlement.join`), and — with a {@link GroupLog} — recording every group
 * before it is emitted and replaying recorded groups after a restart.
 *
 * Replay: a value whose input belongs to a recorded group is not batched anew. If the group was
 * published, its input is released at once (acknowledged: its effects are complete). If not, the
 * value waits until every member of the group has come back, and the same group is emitted again
 * under the same key. Members that do not come back within `replayWaitMs` (dead-lettered, or more
 * than the source lets be unsettled) are given up on: the members that did come back are recorded
 * as a new group and emitted under a new key.
 *
 * Errors (a throwing `sizeOf`, a failed LMDB commit) fail and release the inputs involved, then
 * go to `onError`; the caller ends its stream, and `dispose` fails the rest.
 */
export class BatchGrouper<T> {
  private readonly acc: BatchAccumulator<Entry<T>>;
  /** Recorded mode: member key → its entry in the batch being formed. */
  private readonly forming = new Map<string, Entry<T>>();
  private readonly replays = new Map<string, Replay<T>>();
  /** Member key → the replay it waits in. */
  private readonly replayOf = new Map<string, Replay<T>>();
  /** Member key → extra holds of its emitted, unsettled group (a delivery that came again meanwhile). */
  private readonly inFlight = new Map<string, Settlement[]>();
  private unheld = 0;
  private disposed = false;

  constructor(
    private readonly limits: BatchLimits<T>,
    private readonly log: GroupLog | undefined,
    private readonly replayWaitMs: number,
    private readonly onBatch: (batch: HeldBatch<T>) => void,
    private readonly onError: (error: unknown) => void,
  ) {
    this.acc = new BatchAccumulator<Entry<T>>({ ...limits, sizeOf: (e) => limits.sizeOf(e.value) }, (entries, reason) => this.cut(entries, reason));
  }

  /** Values held and not yet emitted: the batch being formed plus replays waiting for members. */
  get count(): number {
    let n = this.acc.count;
    for (const r of this.replays.values()) n += r.arrived.size;
    return n;
  }

  /** Values in the batch being formed that came without a settlement (nothing upstream bounds them). */
  get unheldCount(): number {
    return this.unheld;
  }

  /**
   * Adds a value with the hold its caller took on its input (`holdCurrent()`); the grouper owns
   * that hold from here. Throws what `sizeOf` throws, after failing and releasing the hold.
   */
  push(value: T, held: Settlement | undefined): void {
    if (this.disposed) {
      held?.fail(new Error('micro-batch closed before this value was batched'));
      held?.release();
      return;
    }
    if (this.log !== undefined && held !== undefined && this.joinKnown(this.log, value, held)) return;
    const entry: Entry<T> = { value, held };
    if (held === undefined) this.unheld++;
    else if (this.log !== undefined) this.forming.set(held.key, entry);
    try {
      this.acc.push(entry);
    } catch (err) {
      if (held === undefined) this.unheld--;
      else {
        this.forming.delete(held.key);
        held.fail(ensureError(err));
        held.release();
      }
      throw err;
    }
  }

  /**
   * The observer side: adds a value arriving now, holding its input (`holdCurrent()`). A throw
   * (`sizeOf`, the log) goes to `onError`; returns whether the value was taken.
   */
  next(value: T): boolean {
    try {
      this.push(value, holdCurrent());
      return true;
    } catch (err) {
      this.onError(err);
      return false;
    }
  }

  /** Emits the batch being formed, if any. */
  flush(reason: BatchCutReason): void {
    this.acc.cut(reason);
  }

  /**
   * Completion: emits the batch being formed; replays still waiting for members are failed (not
   * emitted): their record stays, and the next run completes them.
   */
  finish(): void {
    this.acc.cut('complete');
    this.dropReplays(new Error('micro-batch completed before every member of a recorded group came back'));
  }

  /** Cancels timers and fails + releases every value not yet emitted (they are redelivered). */
  dispose(reason: Error): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const e of this.acc.dispose()) failEntry(e, reason);
    this.forming.clear();
    this.unheld = 0;
    this.dropReplays(reason);
  }

  /** Recorded mode: handles an input that is already batched, in flight or recorded. True when done. */
  private joinKnown(log: GroupLog, value: T, held: Settlement): boolean {
    const key = held.key;
    const waiting = this.forming.get(key) ?? this.replayOf.get(key)?.arrived.get(key);
    if (waiting !== undefined) {
      (waiting.extra ??= []).push(held);
      return true;
    }
    const flying = this.inFlight.get(key);
    if (flying !== undefined) {
      flying.push(held);
      return true;
    }
    let group: RecordedGroup | undefined;
    try {
      group = log.groupOf(key);
    } catch (err) {
      held.fail(ensureError(err));
      held.release();
      throw err;
    }
    if (group === undefined) return false;
    if (group.publishedAt !== undefined) {
      held.release();
      return true;
    }
    let replay = this.replays.get(group.key);
    if (replay === undefined) {
      const r: Replay<T> = {
        group,
        arrived: new Map(),
        timer: this.limits.scheduler.schedule(() => this.giveUp(r), this.replayWaitMs),
      };
      this.replays.set(group.key, (replay = r));
    }
    replay.arrived.set(key, { value, held });
    this.replayOf.set(key, replay);
    if (replay.group.members.every((m) => replay.arrived.has(m))) {
      this.endReplay(replay);
      this.emit(replay.group, replay.group.members.map((m) => replay.arrived.get(m)!), 'replay');
    }
    return true;
  }

  private giveUp(replay: Replay<T>): void {
    if (this.replays.get(replay.group.key) !== replay) return;
    this.endReplay(replay);
    const entries = replay.group.members.flatMap((m) => replay.arrived.get(m) ?? []);
    let group: RecordedGroup;
    try {
      group = this.log!.regroup(replay.group, entries.map((e) => e.held!.key));
    } catch (err) {
      for (const e of entries) failEntry(e, ensureError(err));
      return this.onError(err);
    }
    this.emit(group, entries, 'regroup');
  }

  private endReplay(replay: Replay<T>): void {
    replay.timer.unsubscribe();
    this.replays.delete(replay.group.key);
    for (const m of replay.arrived.keys()) this.replayOf.delete(m);
  }

  private dropReplays(reason: Error): void {
    for (const r of [...this.replays.values()]) {
      this.endReplay(r);
      for (const e of r.arrived.values()) failEntry(e, reason);
    }
  }

  private cut(entries: Entry<T>[], reason: BatchCutReason): void {
    let heldCount = 0;
    for (const e of entries) {
      if (e.held === undefined) this.unheld--;
      else {
        heldCount++;
        if (this.log !== undefined) this.forming.delete(e.held.key);
      }
    }
    const values = entries.map((e) => e.value);
    if (heldCount === 0) return this.onBatch({ values, settlement: undefined, allHeld: false, unheld: values.length, reason });
    if (this.log === undefined) {
      const holds = holdsOf(entries);
      const settlement = Settlement.join(holds);
      for (const h of holds) h.release();
      return this.onBatch({ values, settlement, allHeld: heldCount === entries.length, unheld: entries.length - heldCount, reason });
    }
    let group: RecordedGroup;
    try {
      group = this.log.record(entries.flatMap((e) => (e.held === undefined ? [] : [e.held.key])));
    } catch (err) {
      for (const e of entries) failEntry(e, ensureError(err));
      return this.onError(err);
    }
    this.emit(group, entries, reason, values, entries.length - heldCount);
  }

  /** Emits a recorded group: its settlement marks it published before its members are released. */
  private emit(group: RecordedGroup, entries: Entry<T>[], reason: HeldBatch<T>['reason'], values = entries.map((e) => e.value), unheld = 0): void {
    const log = this.log!;
    const extras: Settlement[] = [];
    for (const m of group.members) this.inFlight.set(m, extras);
    const holds = holdsOf(entries);
    const settlement = Settlement.join(holds, group.key, (failure) => {
      for (const m of group.members) if (this.inFlight.get(m) === extras) this.inFlight.delete(m);
      let outcome = failure;
      if (outcome === undefined) {
        try {
          log.markPublished(group);
        } catch (err) {
          // Not marked: the members are redelivered and the group replayed under the same key.
          outcome = ensureError(err);
        }
      }
      for (const x of extras) {
        if (outcome !== undefined) x.fail(outcome);
        x.release();
      }
      return outcome;
    });
    for (const h of holds) h.release();
    this.onBatch({ values, settlement, allHeld: unheld === 0, unheld, reason });
  }
}

function holdsOf<T>(entries: readonly Entry<T>[]): Settlement[] {
  const out: Settlement[] = [];
  for (const e of entries) {
    if (e.held !== undefined) out.push(e.held);
    if (e.extra !== undefined) out.push(...e.extra);
  }
  return out;
}

function failEntry<T>(e: Entry<T>, reason: Error): void {
  for (const h of holdsOf([e])) {
    h.fail(reason);
    h.release();
  }
}
