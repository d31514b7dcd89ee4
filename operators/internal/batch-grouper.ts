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
   * With a group log its key is the recorded group's key, and it is replay-stable.
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
  /** Later deliveries of the same input (recorded mode), released with it. */
  extra?: Settlement[];
}

interface Replay<T> {
  readonly group: RecordedGroup;
  readonly arrived: Map<string, Entry<T>>;
  readonly timer: Subscription;
}

/** A recorded group between its cut and the end of its "published" mark. */
interface Flight<T> {
  /** Its entries until it is emitted (dropped, failed, if the grouper is disposed first). */
  entries: Entry<T>[] | undefined;
  /** Deliveries of its inputs that came again meanwhile: released with the group. */
  readonly extras: Settlement[];
}

/**
 * The settle-aware heart of `microBatch` and `microBatchProcess`: cuts values into batches like
 * {@link BatchAccumulator}, holding each value's input until the batch it joined has been emitted
 * and released. With a {@link GroupLog}, every group is recorded before it is emitted (the commit
 * runs on LMDB's writer thread; the batch is emitted when it resolves, in cut order), and the
 * group's settlement, once its effects are complete, marks it published before its members are
 * released.
 *
 * Replay: a value whose input belongs to a recorded group is not batched anew. If the group was
 * published, its input is released at once (acknowledged: its effects are complete). If not, the
 * value waits until every member of the group has come back, and the same group is emitted again
 * under the same key. Members that do not come back within `replayWaitMs` (dead-lettered, or more
 * than the source lets be unsettled) are given up on: those that did come back are recorded as a
 * new group and emitted under a new key.
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
  /** Member key → its recorded group, from the cut until the group's mark is done. */
  private readonly flights = new Map<string, Flight<T>>();
  /** Record commits not yet resolved. */
  private recording = 0;
  private whenIdle: (() => void) | undefined;
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
   * Adds a value arriving now, holding its input (`holdCurrent()`) until its batch is released.
   * A throw (`sizeOf`, the log) fails and releases that hold and goes to `onError`; returns
   * whether the value was taken.
   */
  next(value: T): boolean {
    const held = holdCurrent();
    try {
      this.push(value, held);
      return true;
    } catch (err) {
      if (held !== undefined) {
        this.forming.delete(held.key);
        failRelease(held, ensureError(err));
      }
      this.onError(err);
      return false;
    }
  }

  /**
   * Completion: emits the batch being formed and calls `done` once every recorded group was
   * emitted (at once without a log). Replays still waiting for members are failed, not emitted:
   * their record stays, and the next run completes them.
   */
  finish(done: () => void): void {
    this.acc.cut('complete');
    this.dropReplays(new Error('micro-batch completed before every member of a recorded group came back'));
    if (this.recording === 0) done();
    else this.whenIdle = done;
  }

  /** Cancels timers and fails + releases every value not yet emitted (they are redelivered). */
  dispose(reason: Error): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const e of this.acc.dispose()) failEntry(e, reason);
    this.forming.clear();
    this.unheld = 0;
    this.dropReplays(reason);
    // Groups still being recorded are never emitted now; emitted ones settle downstream.
    for (const [member, f] of [...this.flights]) {
      if (f.entries === undefined) continue;
      this.flights.delete(member);
      for (const e of f.entries) failEntry(e, reason);
      for (const x of f.extras.splice(0)) failRelease(x, reason);
      f.entries = undefined;
    }
  }

  private push(value: T, held: Settlement | undefined): void {
    if (this.disposed) {
      if (held !== undefined) failRelease(held, new Error('micro-batch closed before this value was batched'));
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
      throw err;
    }
  }

  /** Recorded mode: handles an input that is already batched, in flight or recorded. True when done. */
  private joinKnown(log: GroupLog, value: T, held: Settlement): boolean {
    const key = held.key;
    const waiting = this.forming.get(key) ?? this.replayOf.get(key)?.arrived.get(key);
    if (waiting !== undefined) {
      (waiting.extra ??= []).push(held);
      return true;
    }
    const flight = this.flights.get(key);
    if (flight !== undefined) {
      flight.extras.push(held);
      return true;
    }
    const group = log.groupOf(key);
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
      const entries = replay.group.members.map((m) => replay.arrived.get(m)!);
      this.emit(replay.group, this.fly(replay.group, entries), 'replay');
    }
    return true;
  }

  private giveUp(replay: Replay<T>): void {
    if (this.replays.get(replay.group.key) !== replay) return;
    this.endReplay(replay);
    const entries = replay.group.members.flatMap((m) => replay.arrived.get(m) ?? []);
    const group = this.log!.groupFor(entries.map((e) => e.held!.key));
    this.commitThenEmit(this.log!.regroup(replay.group, group), group, entries, 'regroup', 0);
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
    const group = this.log.groupFor(entries.flatMap((e) => (e.held === undefined ? [] : [e.held.key])));
    this.commitThenEmit(this.log.record(group), group, entries, reason, entries.length - heldCount);
  }

  /** Registers the group as in flight (so a repeated delivery joins it) and emits it once `commit` resolves. */
  private commitThenEmit(commit: Promise<void>, group: RecordedGroup, entries: Entry<T>[], reason: HeldBatch<T>['reason'], unheld: number): void {
    const flight = this.fly(group, entries);
    this.recording++;
    commit.then(
      () => {
        if (flight.entries !== undefined) this.emit(group, flight, reason, unheld);
        else this.land(group, flight);
        this.recorded();
      },
      (err: unknown) => {
        this.land(group, flight);
        for (const e of flight.entries ?? []) failEntry(e, ensureError(err));
        for (const x of flight.extras) failRelease(x, ensureError(err));
        flight.entries = undefined;
        this.recorded();
        this.onError(err);
      },
    );
  }

  private recorded(): void {
    if (--this.recording > 0 || this.whenIdle === undefined) return;
    const done = this.whenIdle;
    this.whenIdle = undefined;
    done();
  }

  private fly(group: RecordedGroup, entries: Entry<T>[]): Flight<T> {
    const flight: Flight<T> = { entries, extras: [] };
    for (const m of group.members) this.flights.set(m, flight);
    return flight;
  }

  private land(group: RecordedGroup, flight: Flight<T>): void {
    for (const m of group.members) if (this.flights.get(m) === flight) this.flights.delete(m);
  }

  /**
   * Emits a recorded group. Its members are held by a gate that the group's settlement releases
   * only after the "published" mark is committed (or at once, failed, when the group failed).
   */
  private emit(group: RecordedGroup, flight: Flight<T>, reason: HeldBatch<T>['reason'], unheld = 0): void {
    const entries = flight.entries!;
    flight.entries = undefined;
    const holds = holdsOf(entries);
    const gate = Settlement.join(holds);
    for (const h of holds) h.release();
    const close = (outcome: Error | undefined): void => {
      this.land(group, flight);
      for (const x of [...flight.extras, gate]) {
        if (outcome !== undefined) x.fail(outcome);
        x.release();
      }
    };
    const settlement = new Settlement(group.key, true, (failure) => {
      // Not marked when failed: the members are redelivered and the group replayed under the same key.
      if (failure !== undefined) return close(failure);
      this.log!.markPublished(group).then(
        () => close(undefined),
        (err: unknown) => close(ensureError(err)),
      );
    });
    this.onBatch({ values: entries.map((e) => e.value), settlement, allHeld: unheld === 0, unheld, reason });
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

function failRelease(s: Settlement, reason: Error): void {
  s.fail(reason);
  s.release();
}

function failEntry<T>(e: Entry<T>, reason: Error): void {
  for (const h of holdsOf([e])) failRelease(h, reason);
}
