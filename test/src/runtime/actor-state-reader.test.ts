import { describe, expect, it } from 'vitest';
import { actor } from '../../../src/actors/actor.js';
import type { ActorStateAnswer } from '../../../src/actors/actor-client.js';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import { InvalidConfigError } from '../../../src/errors.js';
import { defineTopology } from '../../../src/runtime/define-topology.js';
import { describeTopology } from '../../../src/runtime/describe-topology.js';
import { ActorSlot, actorStateReader, type ActorStateReader } from '../../../src/runtime/actor-state-reader.js';
import type { MountDeps } from '../../../src/runtime/mount-actor.js';
import type { RunningActor } from '../../../src/actors/start-actor.js';
import { startTestDriver } from '../../../src/testing/topology-test-driver.js';
import { until } from '../../helpers/until.js';

type Deposit = { account: string; cents: number };
const balances = actor<number, Deposit>({
  name: 'balances',
  key: (m) => m.data.account,
  initial: (account) => (account.startsWith('vip-') ? 100 : 0),
  handle: (balance, msg) => (msg.kind === 'message' ? balance + msg.data.cents : balance),
});

let lastReader: ActorStateReader<number> | undefined;
// The shape t.actorState is for: a responder deciding from an actor's committed state.
const bank = defineTopology('bank', (t) => {
  t.actor(balances, t.stream<Deposit>('BANK', 'bank.deposits'));
  const state = (lastReader = t.actorState(balances));
  t.respond<{ account: string }, ActorStateAnswer<number>>('bank.balance', (req) => state.get(req.data.account), {
    deadlineMs: 5_000,
    fallback: () => ({ state: -1, found: false, stopped: false }),
  });
  // The synchronous read: undefined (here null on the wire) only while the actor is starting.
  t.respond<{ account: string }, ActorStateAnswer<number> | null>('bank.balance.now', (req) => state.read(req.data.account) ?? null, {
    deadlineMs: 5_000,
    fallback: () => null,
  });
});

describe('t.actorState: a part reads a mounted actor’s committed state in-process', () => {
  it('get and read answer the committed state of a key, and initial(key) with found: false for a key without state', async () => {
    const driver = await startTestDriver(bank);
    const ask = async (account: string) =>
      msgpackCodec.decode(
        (await driver.transport.request('bank.balance', msgpackCodec.encode({ account }), { timeoutMs: 5_000 })).data,
      ) as ActorStateAnswer<number>;
    // Asked while the actor may still be starting: the read waits for it instead of failing.
    expect(await ask('nobody')).toEqual({ state: 0, found: false, stopped: false });
    expect(await ask('vip-1')).toEqual({ state: 100, found: false, stopped: false });
    const deposits = driver.input<Deposit>('bank.deposits');
    for (const cents of [10, 20, 30]) deposits.publish({ account: 'acc-1', cents });
    deposits.publish({ account: 'vip-1', cents: 5 });
    await until(async () => (await ask('acc-1')).state === 60, { what: 'acc-1 at 60' });
    expect(await ask('acc-1')).toEqual({ state: 60, found: true, stopped: false });
    expect(await ask('vip-1')).toEqual({ state: 105, found: true, stopped: false });
    const now = async (account: string) =>
      msgpackCodec.decode((await driver.transport.request('bank.balance.now', msgpackCodec.encode({ account }), { timeoutMs: 5_000 })).data);
    expect(await now('acc-1')).toEqual({ state: 60, found: true, stopped: false });
    expect(await now('nobody')).toEqual({ state: 0, found: false, stopped: false });
    await driver.stop();
    // The run is over and its store closed: a read fails rather than answer from nowhere.
    expect(() => lastReader!.read('acc-1')).toThrow();
    await expect(lastReader!.get('acc-1')).rejects.toThrow();
  });

  it('names an actor the topology mounted before, else it fails at build with InvalidConfigError', () => {
    const early = defineTopology('early', (t) => {
      t.actorState(balances);
      t.actor(balances, t.stream<Deposit>('BANK', 'bank.deposits'));
    });
    expect(() => describeTopology(early)).toThrow(InvalidConfigError);
    expect(() => describeTopology(early)).toThrow(/actorState: 'def' names actor 'balances', which this topology has not mounted/);
    expect(() => describeTopology(bank)).not.toThrow();
  });

  it('while the actor starts, get waits and read is undefined; a failed start rejects get', async () => {
    const slot = new ActorSlot<number>();
    const deps = { actors: new Map([['balances', slot as ActorSlot<unknown>]]) } as unknown as MountDeps;
    const reader = actorStateReader<number>(deps, balances);
    expect(reader.read('a')).toBeUndefined();
    let got: unknown;
    const pending = reader.get('a').then((a) => (got = a));
    await Promise.resolve();
    expect(got).toBeUndefined();
    slot.started({ state: (key: string) => ({ state: key.length, found: true, stopped: false }) } as unknown as RunningActor<number>);
    await pending;
    expect(got).toEqual({ state: 1, found: true, stopped: false });
    expect(reader.read('abc')).toEqual({ state: 3, found: true, stopped: false });

    const failing = new ActorSlot<number>();
    const other = actorStateReader<number>({ actors: new Map([['balances', failing]]) } as unknown as MountDeps, balances);
    const read = other.get('a');
    failing.failed(new Error('state directory not writable'));
    await expect(read).rejects.toThrow('state directory not writable');
  });
});
