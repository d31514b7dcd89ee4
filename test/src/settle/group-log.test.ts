import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Subject, type Subscription } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { microBatch } from '../../../operators/micro-batch.js';
import { GroupLog } from '../../../src/settle/group-log.js';
import { currentSettlement, holdCurrent, withSettlement } from '../../../src/settle/settle-scope.js';
import { Settlement } from '../../../src/settle/settlement.js';
import { openStateStore } from '../../../src/state/open-state-store.js';
import type { StateStore } from '../../../src/state/types.js';

const dirs: string[] = [];
const stores: StateStore[] = [];
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function freshStore(): StateStore {
  const dir = mkdtempSync(join(tmpdir(), 'group-log-'));
  dirs.push(dir);
  const store = openStateStore({ dir, topology: 'groups', noSync: true, mapSizeBytes: 64 * 1024 * 1024 });
  stores.push(store);
  return store;
}

/** Tracks the store's async commits, so a test can wait until all have landed and been acted on. */
function tracked(store: StateStore): { store: StateStore; idle: () => Promise<void> } {
  const pending = new Set<Promise<void>>();
  const wrapped: StateStore = {
    ...store,
    transactionAsync: (fn) => {
      const p = store.transactionAsync(fn);
      pending.add(p);
      p.then(
        () => pending.delete(p),
        () => pending.delete(p),
      );
      return p;
    },
  };
  const idle = async (): Promise<void> => {
    do {
      await Promise.allSettled([...pending]);
      await new Promise((resolve) => setImmediate(resolve));
    } while (pending.size > 0);
  };
  return { store: wrapped, idle };
}

async function record(log: GroupLog, members: string[]) {
  const g = log.groupFor(members);
  await log.record(g);
  return g;
}

describe('GroupLog', () => {
  it('records a group with its members, finds it by any member, and marks it published', async () => {
    const store = freshStore();
    let now = 1_000;
    const log = new GroupLog({ store, name: 'files', now: () => now });
    const g = await record(log, ['S:1', 'S:2']);
    expect(g.key).toBe(GroupLog.keyOf('files', ['S:1', 'S:2']));
    expect(g.key).toMatch(/^files:S:1\+2:[0-9a-f]{12}$/);
    expect(log.groupOf('S:2')).toEqual({ key: g.key, members: ['S:1', 'S:2'], recordedAt: 1_000, publishedAt: undefined });
    expect(log.groupOf('S:3')).toBeUndefined();
    now = 1_500;
    await log.markPublished(g);
    expect(log.groupOf('S:1')?.publishedAt).toBe(1_500);
    // Another process opening the same store sees the same record.
    expect(new GroupLog({ store, name: 'files', now: () => now }).groupOf('S:1')?.publishedAt).toBe(1_500);
    expect(new GroupLog({ store, name: 'other', now: () => now }).groupOf('S:1')).toBeUndefined();
  });

  it('members with keys of any length (a poll cursor can be anything): hashed in the index, kept whole in the record', async () => {
    const store = freshStore();
    let now = 0;
    const log = new GroupLog({ store, name: 'poll', retentionMs: 100, now: () => now });
    const long = `poll:feed:${'c'.repeat(5_000)}:0`;
    const lookalike = `#sha256:${'0'.repeat(64)}`; // a member that looks like a hashed one gets an entry of its own
    const g = await record(log, [long, 'S:1', lookalike]);
    expect(g.key).toMatch(/^poll:#sha256:[0-9a-f]{64}\+3:[0-9a-f]{12}$/);
    for (const m of [long, 'S:1', lookalike]) expect(log.groupOf(m)?.members).toEqual([long, 'S:1', lookalike]);
    expect(log.groupOf(`poll:feed:${'c'.repeat(4_999)}:0`)).toBeUndefined();
    await log.markPublished(g);
    now = 100;
    await record(log, ['S:2']); // purges the expired group, index entries included
    expect(log.groupOf(long)).toBeUndefined();
    expect([...store.entries('group-log.poll.members')].map((e) => e.key)).toEqual(['S:2']);
  });

  it('keys depend on the stage name and on every member, in order', () => {
    const k = GroupLog.keyOf('a', ['S:1', 'S:2']);
    expect(GroupLog.keyOf('a', ['S:1', 'S:2'])).toBe(k);
    expect(GroupLog.keyOf('b', ['S:1', 'S:2'])).not.toBe(k);
    expect(GroupLog.keyOf('a', ['S:1', 'S:3'])).not.toBe(k);
    expect(GroupLog.keyOf('a', ['S:2', 'S:1'])).not.toBe(k);
  });

  it('deletes a published record once it is older than the retention, in a later commit', async () => {
    const store = freshStore();
    let now = 0;
    const log = new GroupLog({ store, name: 'r', retentionMs: 100, now: () => now });
    await log.markPublished(await record(log, ['S:1']));
    now = 100;
    await record(log, ['S:2']);
    expect(log.groupOf('S:1')).toBeUndefined();
    expect(log.groupOf('S:2')).toBeDefined();
  });

  it('on open, drops records (published or not) older than the retention', async () => {
    const store = freshStore();
    let now = 0;
    const log = new GroupLog({ store, name: 'o', retentionMs: 50, now: () => now });
    await log.markPublished(await record(log, ['S:1']));
    await record(log, ['S:2']);
    now = 40;
    await record(log, ['S:3']);
    now = 60;
    const reopened = new GroupLog({ store, name: 'o', retentionMs: 50, now: () => now });
    expect(reopened.groupOf('S:1')).toBeUndefined();
    expect(reopened.groupOf('S:2')).toBeUndefined();
    expect(reopened.groupOf('S:3')?.members).toEqual(['S:3']);
  });

  it('regroup replaces a group by the members that came back, under a new key', async () => {
    const store = freshStore();
    const log = new GroupLog({ store, name: 'x', now: () => 0 });
    const g = await record(log, ['S:1', 'S:2', 'S:3']);
    const h = log.groupFor(['S:1', 'S:3']);
    await log.regroup(g, h);
    expect(h.key).not.toBe(g.key);
    expect(log.groupOf('S:1')?.key).toBe(h.key);
    expect(log.groupOf('S:2')).toBeUndefined();
  });

  it('validates its config', () => {
    const store = freshStore();
    expect(() => new GroupLog({ store, name: '', now: () => 0 })).toThrow(/name/);
    expect(() => new GroupLog({ store, name: 'n', retentionMs: -1, now: () => 0 })).toThrow(/retentionMs/);
  });
});

/*
 * A simulated JetStream around microBatch with recorded groups, crashed at random points.
 * The input stream delivers the smallest unacknowledged sequence first (redeliveries before new
 * messages); each delivery is its own Settlement whose ack or nak counts only in the epoch (process
 * run) that made it. Acks travel to the server asynchronously: a crash loses the ones sent since
 * the last step. The sink publishes one message per batch with id `<group key>.<n>` into an output
 * stream that drops ids it has already stored (an endless duplicate window). A publish answered
 * with a failure may still have been stored (a timeout); at a crash, each publish in flight was
 * stored or not. Cuts are by count only, so the grouping is a function of the input order.
 */
type Step = { kind: 'deliver'; n: number } | { kind: 'answer'; pick: number; ok: boolean; stored: boolean } | { kind: 'crash'; stored: boolean[] };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('deliver' as const), n: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('answer' as const), pick: fc.nat(), ok: fc.boolean(), stored: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('crash' as const), stored: fc.array(fc.boolean(), { maxLength: 8 }) }) },
);

interface Outcome {
  /** Output stream: id → member inputs. */
  readonly stored: Map<string, number[]>;
  readonly acked: Set<number>;
  readonly crashes: number;
}

async function simulate(base: StateStore, inputs: number, maxCount: number, steps: readonly Step[]): Promise<Outcome> {
  const { store, idle } = tracked(base);
  const stored = new Map<string, number[]>();
  const acked = new Set<number>();
  let ackInFlight: number[] = [];
  const toDeliver = new Set<number>(Array.from({ length: inputs }, (_, i) => i + 1));
  let publishes: Array<{ id: string; members: number[]; held: Settlement }> = [];
  let epoch = 0;
  let crashes = 0;
  let input: Subject<number>;
  let sub: Subscription | undefined;
  const scheduler = new TestScheduler(() => undefined);

  const start = (): void => {
    input = new Subject<number>();
    sub = input.pipe(microBatch({ maxCount, maxWaitMs: 1_000_000, scheduler, groups: { store, name: 'sim' } })).subscribe((batch) => {
      const held = holdCurrent()!;
      expect(held.replayStable).toBe(true);
      publishes.push({ id: `${held.key}.${held.nextOutputIndex('out')}`, members: batch, held });
    });
  };
  const store1 = (id: string, members: number[]): void => {
    if (!stored.has(id)) stored.set(id, members);
  };
  const deliver = (n: number): void => {
    const k = Math.min(...toDeliver);
    if (!Number.isFinite(k)) return;
    toDeliver.delete(k);
    const mine = epoch;
    const s = new Settlement(`S:${k}`, true, (failure) => {
      if (mine !== epoch) return;
      if (failure === undefined) ackInFlight.push(k);
      else toDeliver.add(k);
    });
    withSettlement(s, () => input.next(k));
    s.release();
    if (n > 1) deliver(n - 1);
  };
  const flushAcks = (): void => {
    for (const k of ackInFlight) acked.add(k);
    ackInFlight = [];
  };

  start();
  for (const step of steps) {
    // Commits land (or, for a crash, had landed) before the next step: a crash mid-commit is the
    // same as a crash just before it or just after it.
    await idle();
    if (step.kind === 'crash') {
      crashes++;
      epoch++;
      publishes.forEach((p, i) => {
        if (step.stored[i % Math.max(1, step.stored.length)] === true) store1(p.id, p.members);
      });
      publishes = [];
      ackInFlight = [];
      sub?.unsubscribe();
      for (let k = 1; k <= inputs; k++) if (!acked.has(k)) toDeliver.add(k);
      start();
      continue;
    }
    flushAcks();
    if (step.kind === 'deliver') deliver(step.n);
    else if (publishes.length > 0) {
      const [p] = publishes.splice(step.pick % publishes.length, 1);
      if (step.ok || step.stored) store1(p!.id, p!.members);
      if (!step.ok) p!.held.fail(new Error('publish failed'));
      p!.held.release();
    }
  }
  // Run to the end without crashes: deliver everything, answer everything, then complete.
  for (let guard = 0; guard < 10_000; guard++) {
    await idle();
    flushAcks();
    if (toDeliver.size === 0 && publishes.length === 0) break;
    if (toDeliver.size > 0) deliver(toDeliver.size);
    for (const p of publishes.splice(0)) {
      store1(p.id, p.members);
      p.held.release();
    }
  }
  input!.complete();
  await idle();
  for (const p of publishes.splice(0)) {
    store1(p.id, p.members);
    p.held.release();
  }
  await idle();
  flushAcks();
  sub?.unsubscribe();
  return { stored, acked, crashes };
}

describe('recorded micro-batches across crashes (property, real LMDB)', () => {
  it('every input lands in exactly one published group, and the groups and ids are those of a run without crashes', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(stepArb, { maxLength: 60 }),
        async (inputs, maxCount, steps) => {
          const crashed = await simulate(freshStore(), inputs, maxCount, steps);
          const calm = await simulate(
            freshStore(),
            inputs,
            maxCount,
            steps.filter((s) => s.kind !== 'crash'),
          );
          const seen = new Map<number, string>();
          for (const [id, members] of crashed.stored) {
            for (const m of members) {
              expect(seen.get(m), `input ${m} published in ${seen.get(m)} and ${id}`).toBeUndefined();
              seen.set(m, id);
            }
          }
          expect(seen.size).toBe(inputs);
          expect(crashed.acked.size).toBe(inputs);
          expect([...crashed.stored].sort()).toEqual([...calm.stored].sort());
        },
      ),
      { numRuns: Number(process.env.PROP_RUNS ?? 60) },
    );
  });
});

describe('microBatch with recorded groups', () => {
  const deliver = (input: Subject<string>, key: string, log: string[]): void => {
    const s = new Settlement(`S:${key}`, true, (f) => log.push(`${key}:${f === undefined ? 'ack' : 'nak'}`));
    withSettlement(s, () => input.next(key));
    s.release();
  };
  const start = (store: StateStore, scheduler: TestScheduler, replayWaitMs: number, onBatch: (batch: string[], group: Settlement) => void) => {
    const input = new Subject<string>();
    const sub = input
      .pipe(microBatch({ maxCount: 3, maxWaitMs: 1_000, scheduler, groups: { store, name: 'm', replayWaitMs } }))
      .subscribe((batch) => onBatch(batch, currentSettlement()!));
    return { input, stop: () => sub.unsubscribe() };
  };

  it('emits a batch once its record is committed, and acknowledges its inputs once it is marked published', async () => {
    const { store, idle } = tracked(freshStore());
    const log: string[] = [];
    const out: string[][] = [];
    const run = start(store, new TestScheduler(() => undefined), 100, (b) => out.push(b));
    for (const k of ['a', 'b', 'c']) deliver(run.input, k, log);
    expect(out).toEqual([]);
    await idle();
    expect(out).toEqual([['a', 'b', 'c']]);
    expect(log).toEqual(['a:ack', 'b:ack', 'c:ack']);
    expect(new GroupLog({ store, name: 'm', now: () => 0 }).groupOf('S:b')?.publishedAt).toBeDefined();
    run.stop();
  });

  it('after a restart, a member of a published group is acknowledged without being emitted again', async () => {
    const { store, idle } = tracked(freshStore());
    const scheduler = new TestScheduler(() => undefined);
    const log: string[] = [];
    const out: string[][] = [];
    const first = start(store, scheduler, 100, (b) => out.push(b));
    for (const k of ['a', 'b', 'c']) deliver(first.input, k, log);
    await idle();
    first.stop();
    // Say the acks were lost: the restarted process gets the inputs again.
    const second = start(store, scheduler, 100, (b) => out.push(b));
    for (const k of ['b', 'a', 'c']) deliver(second.input, k, log);
    await idle();
    expect(out).toEqual([['a', 'b', 'c']]);
    expect(log).toEqual(['a:ack', 'b:ack', 'c:ack', 'b:ack', 'a:ack', 'c:ack']);
    second.stop();
  });

  it('a replayed group is emitted again under the same key once all its members are back', async () => {
    const { store, idle } = tracked(freshStore());
    const scheduler = new TestScheduler(() => undefined);
    const log: string[] = [];
    const keys: string[] = [];
    const first = start(store, scheduler, 100, (_b, group) => {
      keys.push(group.key);
      group.hold(); // the publish never answers: the process dies
    });
    for (const k of ['a', 'b', 'c']) deliver(first.input, k, log);
    await idle();
    first.stop();
    const out: string[][] = [];
    const second = start(store, scheduler, 100, (b, group) => {
      keys.push(group.key);
      out.push(b);
    });
    for (const k of ['c', 'a']) deliver(second.input, k, log);
    await idle();
    expect(out).toEqual([]);
    deliver(second.input, 'b', log);
    await idle();
    expect(out).toEqual([['a', 'b', 'c']]);
    expect(keys[1]).toBe(keys[0]);
    expect(log.sort()).toEqual(['a:ack', 'b:ack', 'c:ack']);
    second.stop();
  });

  it('members that do not come back within replayWaitMs: the others are regrouped under a new key', async () => {
    const { store, idle } = tracked(freshStore());
    const scheduler = new TestScheduler(() => undefined);
    const log: string[] = [];
    const keys: string[] = [];
    const first = start(store, scheduler, 50, (_b, group) => {
      keys.push(group.key);
      group.hold();
    });
    for (const k of ['a', 'b', 'c']) deliver(first.input, k, log);
    await idle();
    first.stop();
    const out: string[][] = [];
    const second = start(store, scheduler, 50, (b, group) => {
      keys.push(group.key);
      out.push(b);
    });
    deliver(second.input, 'b', log);
    deliver(second.input, 'a', log);
    scheduler.flush(); // 50 ms later: c (dead-lettered, say) never came
    await idle();
    expect(out).toEqual([['a', 'b']]);
    expect(keys[1]).not.toBe(keys[0]);
    expect(keys[1]).toBe(GroupLog.keyOf('m', ['S:a', 'S:b']));
    expect(log.sort()).toEqual(['a:ack', 'b:ack']);
    // c, should it come back after all, is batched anew.
    deliver(second.input, 'c', log);
    expect(new GroupLog({ store, name: 'm', now: () => 0 }).groupOf('S:c')).toBeUndefined();
    second.stop();
  });

  it('a second delivery of an input already batched or in flight joins it and settles with it', async () => {
    const { store, idle } = tracked(freshStore());
    const log: string[] = [];
    const out: string[][] = [];
    const groups: Settlement[] = [];
    const run = start(store, new TestScheduler(() => undefined), 100, (b, group) => {
      out.push(b);
      group.hold();
      groups.push(group);
    });
    deliver(run.input, 'a', log);
    deliver(run.input, 'a', log); // redelivered while still in the batch being formed
    deliver(run.input, 'b', log);
    deliver(run.input, 'c', log);
    await idle();
    deliver(run.input, 'b', log); // redelivered while its group is in flight
    expect(out).toEqual([['a', 'b', 'c']]);
    expect(log).toEqual([]);
    groups[0]!.release();
    await idle();
    expect(log.sort()).toEqual(['a:ack', 'a:ack', 'b:ack', 'b:ack', 'c:ack']);
    run.stop();
  });
});
