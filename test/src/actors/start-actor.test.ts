import { mkdtempSync, rmSync } from 'node:fs';
import type { DeadLetterRecord } from '../../../src/dead-letter/dead-letter-record.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, take } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { askActor, queryActorState, queryActorStatus, resetActorKey, tellActor } from '../../../src/actors/actor-client.js';
import { actor } from '../../../src/actors/actor.js';
import { startActor, type RunningActor, type StartActorOptions } from '../../../src/actors/start-actor.js';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import { ControlNotAllowedError } from '../../../src/errors.js';
import { replayDeadLetters } from '../../../src/runtime/replay-dead-letters.js';
import type { Envelope } from '../../../src/envelope/envelope.js';
import { decodeDeadLetter } from '../../../src/dead-letter/encode-dead-letter.js';
import { openStateStore } from '../../../src/state/open-state-store.js';
import type { StateStore } from '../../../src/state/types.js';
import { NatsTransport } from '../../../src/transport/nats/nats-transport.js';
import type { Transport } from '../../../src/transport/transport.js';
import { uniqueName, useNatsServer } from '../../helpers/nats-server.js';
import { readStream as readWholeStream } from '../../helpers/read-stream.js';
import { TRANSPORT_KINDS, useTransport } from '../../helpers/transports.js';

const server = useNatsServer();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

type Cmd = { acct: string; op: 'add' | 'hold' | 'boom'; n?: number };
type Account = { balance: number; fired: number };

/** An account actor: adds, throws on 'boom', and on 'hold' sets a 1 s timer that adds 100 when it fires. */
const accounts = (out: string) =>
  actor<Account, Cmd, { add: number }>({
    name: 'accounts',
    key: (m: Envelope<Cmd>) => m.data.acct,
    initial: () => ({ balance: 0, fired: 0 }),
    supervision: 'skip',
    handle: (s, m, ctx) => {
      if (m.kind === 'timer') {
        ctx.emit(out, { acct: ctx.key, timer: m.timerId });
        return { balance: s.balance + m.data.add, fired: s.fired + 1 };
      }
      if (m.data.op === 'boom') throw new Error(`boom for ${ctx.key}`);
      if (m.data.op === 'hold') ctx.setTimer('release', { afterMs: 1_000 }, { add: 100 });
      const next = { ...s, balance: s.balance + (m.data.n ?? 0) };
      ctx.reply(next);
      return next;
    },
  });

async function setup(transport: Transport) {
  const topology = uniqueName('topo');
  const input = uniqueName('IN');
  const output = uniqueName('OUT');
  const inSubject = `${input.toLowerCase()}.cmd`;
  const outSubject = `${output.toLowerCase()}.events`;
  await transport.ensureStream({ name: output, subjects: [outSubject], storage: 'memory' });
  const dir = mkdtempSync(join(tmpdir(), 'sluice-actor-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const def = accounts(outSubject);
  const address = { topology, actor: 'accounts' };
  const open = (): StateStore => {
    const store = openStateStore({ dir, topology, noSync: true });
    cleanups.push(() => store.close());
    return store;
  };
  const start = async (store: StateStore, extra: Partial<StartActorOptions> = {}): Promise<RunningActor> => {
    const running = await startActor(def, { transport, store, stream: input, subjects: [inSubject], batch: { maxCount: 100, maxWaitMs: 5 }, ...extra });
    cleanups.push(() => running.stop());
    return running;
  };
  const send = async (cmd: Cmd): Promise<number> => (await transport.publishDurable(inSubject, msgpackCodec.encode(cmd))).seq;
  const readStream = async <T>(stream: string): Promise<T[]> => (await readWholeStream(transport, stream)).map((m) => msgpackCodec.decode(m.data) as T);
  const rawFirst = async (stream: string): Promise<Uint8Array> => (await firstValueFrom(transport.consume({ stream }).pipe(take(1)))).data;
  return { topology, input, output, outSubject, address, open, start, send, readStream, rawFirst };
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.each(TRANSPORT_KINDS)('startActor (real engine, LMDB) on the %s transport', (kind) => {
  const transport = useTransport(kind, server);

  it('keeps state across a restart and answers state queries', async () => {
    const s = await setup(transport());
    const store = s.open();
    const first = await s.start(store);
    await s.send({ acct: 'a', op: 'add', n: 5 });
    await s.send({ acct: 'b', op: 'add', n: 1 });
    const last = await s.send({ acct: 'a', op: 'add', n: 2 });
    await first.engine.settled(last);
    expect(await queryActorState<Account>(transport(), s.address, 'a', { timeoutMs: 2_000 })).toEqual({
      state: { balance: 7, fired: 0 },
      found: true,
      stopped: false,
    });
    expect(await queryActorState<Account>(transport(), s.address, 'nobody', { timeoutMs: 2_000 })).toMatchObject({ state: { balance: 0 }, found: false });
    // A key past MAX_ACTOR_KEY_BYTES: the client helper refuses it, a hand-made query gets a 400.
    const tooLong = 'k.'.repeat(600);
    await expect(queryActorState(transport(), s.address, tooLong, { timeoutMs: 2_000 })).rejects.toThrow(/longer than the 1024 bytes/);
    const answer = await transport().request(
      `sluice.actor.${s.address.topology}.${s.address.actor}.~${Buffer.from(tooLong).toString('base64url')}`,
      new Uint8Array(),
      { timeoutMs: 2_000 },
    );
    expect(answer.headers).toMatchObject({
      'Nats-Service-Error-Code': '400',
      'Nats-Service-Error': 'the key is 1200 bytes, longer than the 1024 bytes an actor key may be',
    });
    await first.stop();
    await store.close();

    const reopened = s.open();
    const second = await s.start(reopened);
    const more = await s.send({ acct: 'a', op: 'add', n: 1 });
    await second.engine.settled(more);
    expect((await queryActorState<Account>(transport(), s.address, 'a', { timeoutMs: 2_000 })).state.balance).toBe(8);
    expect(second.stats().engine.inputs).toBe(1);
  });

  it('a timer set before a restart fires after it, exactly once', async () => {
    const s = await setup(transport());
    const store = s.open();
    const first = await s.start(store);
    const seq = await s.send({ acct: 'a', op: 'hold' });
    await first.engine.settled(seq);
    await first.stop();
    await store.close();

    const second = await s.start(s.open());
    await eventually(async () => (await queryActorState<Account>(transport(), s.address, 'a', { timeoutMs: 2_000 })).state.fired > 0);
    // Restart once more: the fired timer is gone from LMDB, so nothing fires again.
    await second.stop();
    const third = await s.start(s.open());
    const probe = await s.send({ acct: 'a', op: 'add', n: 1 });
    await third.engine.settled(probe);
    expect((await queryActorState<Account>(transport(), s.address, 'a', { timeoutMs: 2_000 })).state).toEqual({ balance: 101, fired: 1 });
    expect(await s.readStream(s.output)).toEqual([{ acct: 'a', timer: 'release' }]);
  });

  it.each(['before-commit', 'after-commit'] as const)('a crash at %s of the batch handling a timer firing still fires it exactly once', async (point) => {
    const s = await setup(transport());
    const store = s.open();
    const holdSeq = 1;
    const crashing = await s.start(store, {
      faults: (f) => {
        if (f.point === point && f.seq > holdSeq) throw new Error(`crash at ${point}`);
      },
    });
    await s.send({ acct: 'a', op: 'hold' });
    await expect(crashing.done).rejects.toThrow();
    const again = await s.start(store);
    await eventually(async () => (await queryActorState<Account>(transport(), s.address, 'a', { timeoutMs: 2_000 })).state.fired > 0);
    await again.engine.settled(again.engine.position);
    expect((await queryActorState<Account>(transport(), s.address, 'a', { timeoutMs: 2_000 })).state).toEqual({ balance: 100, fired: 1 });
    expect(await s.readStream(s.output)).toEqual([{ acct: 'a', timer: 'release' }]);
  });

  it('a throwing handler dead-letters its message without stopping other keys', async () => {
    const s = await setup(transport());
    const running = await s.start(s.open());
    await s.send({ acct: 'a', op: 'add', n: 1 });
    await s.send({ acct: 'bad', op: 'boom' });
    const last = await s.send({ acct: 'b', op: 'add', n: 3 });
    await running.engine.settled(last);
    const dead = await s.readStream<DeadLetterRecord>(`SLUICE_DLQ_${s.topology}`);
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({
      operator: 'actor:accounts',
      key: 'bad',
      seq: 2,
      stream: s.input,
      attempts: 1,
      error: { name: 'Error', message: 'boom for bad' },
    });
    expect(decodeDeadLetter(await s.rawFirst(`SLUICE_DLQ_${s.topology}`)).error.name).toBe('Error');
    expect(msgpackCodec.decode(dead[0]!.payload)).toEqual({ acct: 'bad', op: 'boom' });
    expect((await queryActorState<Account>(transport(), s.address, 'b', { timeoutMs: 2_000 })).state.balance).toBe(3);
    expect(running.stats()).toMatchObject({ handled: 2, deadLettered: 1 });
  });

  it('tells and asks an actor through its input stream; the reply comes after the commit', async () => {
    const s = await setup(transport());
    await s.start(s.open());
    await tellActor(transport(), s.address, 'c.d', { acct: 'ignored', op: 'add', n: 4 });
    const answer = await askActor<Account>(transport(), s.address, 'c.d', { acct: 'ignored', op: 'add', n: 1 }, { timeoutMs: 5_000 });
    expect(answer).toEqual({ balance: 5, fired: 0 });
    expect(await queryActorStatus(transport(), s.address, 'c.d', { timeoutMs: 2_000 })).toMatchObject({ key: 'c.d', found: true, stopped: null });
  });

  it('a reset is acted on only when the run allows control: refused, it is a ControlNotAllowedError dead letter and answered so; allowed, the key starts over', async () => {
    const s = await setup(transport());
    const store = s.open();
    const refusing = await s.start(store);
    await tellActor(transport(), s.address, 'c.d', { acct: 'ignored', op: 'add', n: 4 });
    // Waiting for the answer: the refusal reaches the caller, as a replay's 403 does.
    const refused = await resetActorKey(transport(), s.address, 'c.d', { clearState: true, timeoutMs: 5_000 }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ControlNotAllowedError);
    expect((refused as Error).message).toBe(
      `reset of actor 'accounts' is disabled for topology '${s.topology}': run it with --allow-control (runTopology option allowControl)`,
    );
    // Not waiting: stored, then refused all the same.
    const unanswered = await resetActorKey(transport(), s.address, 'c.d', { clearState: true });
    await refusing.engine.settled(unanswered.seq);
    expect(await queryActorState<Account>(transport(), s.address, 'c.d', { timeoutMs: 2_000 })).toMatchObject({ state: { balance: 4 }, found: true });
    const dead = await s.readStream<DeadLetterRecord>(`SLUICE_DLQ_${s.topology}`);
    const resetSubject = `sluice.actor.${s.topology}.accounts.~${Buffer.from('c.d').toString('base64url')}.reset`;
    expect(dead.map((d) => [d.operator, d.subject, d.key, d.attempts, d.error.name])).toEqual([
      ['actor:accounts', resetSubject, 'c.d', 0, 'ControlNotAllowedError'],
      ['actor:accounts', resetSubject, 'c.d', 0, 'ControlNotAllowedError'],
    ]);
    expect(refusing.stats()).toMatchObject({ deadLettered: 2 });
    await refusing.stop();

    const allowing = await s.start(store, { allowControl: true });
    // A refused reset, replayed once the run allows control, is acted on.
    const replayed = await replayDeadLetters(transport(), s.topology, { limit: 1 });
    expect(replayed).toMatchObject({ replayed: 1, failed: [] });
    await allowing.engine.settled(replayed.records[0]!.to!.seq);
    expect(await queryActorState(transport(), s.address, 'c.d', { timeoutMs: 2_000 })).toMatchObject({ found: false });
    await tellActor(transport(), s.address, 'c.d', { acct: 'ignored', op: 'add', n: 2 });
    expect(await resetActorKey(transport(), s.address, 'c.d', { clearState: true, timeoutMs: 5_000 })).toMatchObject({ duplicate: false });
    // Answered after the commit: the state is gone for every reader.
    expect(await queryActorState(transport(), s.address, 'c.d', { timeoutMs: 2_000 })).toMatchObject({ found: false });
    expect(allowing.stats()).toMatchObject({ deadLettered: 0 });
  });
});

describe('docs/actors.md quick start (kept in sync by hand)', () => {
  it('runs as written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-doc-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    // --- from docs/actors.md ---
    type Deposit = { account: string; cents: number };
    const balances = actor<number, Deposit>({
      name: 'balances',
      key: (m) => m.data.account,
      initial: () => 0,
      handle: (balance, msg, ctx) => {
        if (msg.kind === 'timer') return balance; // no timers here
        const next = balance + msg.data.cents;
        ctx.emit('bank.balance-changed', { account: ctx.key, balance: next });
        return next;
      },
    });

    const transport = await NatsTransport.connect({ servers: server().url });
    await transport.ensureStream({ name: 'BANK_OUT', subjects: ['bank.balance-changed'] });
    const store = openStateStore({ dir, topology: 'bank' });
    const running = await startActor(balances, { transport, store, stream: 'BANK', subjects: ['bank.deposits'] });

    await transport.publishDurable('bank.deposits', msgpackCodec.encode({ account: 'acc-1', cents: 500 }));
    const ack = await tellActor(transport, { topology: 'bank', actor: 'balances' }, 'acc-1', { account: 'acc-1', cents: 250 });
    await running.engine.settled(ack.seq);
    const { state } = await queryActorState<number>(transport, { topology: 'bank', actor: 'balances' }, 'acc-1', { timeoutMs: 2_000 });
    // state === 750

    await running.stop();
    await store.close();
    await transport.close();
    // --- end ---
    expect(state).toBe(750);
  });
});
