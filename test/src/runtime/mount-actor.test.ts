import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { pino } from 'pino';
import { filter } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { actor } from '../../../src/actors/actor.js';
import { queryActorState, resetActorKey } from '../../../src/actors/actor-client.js';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import { decodeEnvelope } from '../../../src/codec/decode-envelope.js';
import { deadLetterStreamName } from '../../../src/dead-letter/dead-letter-subject.js';
import { decodeDeadLetter } from '../../../src/dead-letter/encode-dead-letter.js';
import { ControlNotAllowedError } from '../../../src/errors.js';
import { defineTopology } from '../../../src/runtime/define-topology.js';
import type { ActorStateReader } from '../../../src/runtime/actor-state-reader.js';
import { describeTopology, formatTopologyDescription } from '../../../src/runtime/describe-topology.js';
import { runTopology } from '../../../src/runtime/run-topology.js';
import { NatsTransport } from '../../../src/transport/nats/nats-transport.js';
import type { Transport } from '../../../src/transport/transport.js';
import { uniqueName, useNatsServer } from '../../helpers/nats-server.js';
import { readStream } from '../../helpers/read-stream.js';
import { retryUntilOk, until } from '../../helpers/until.js';

const server = useNatsServer();
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

type Deposit = { account: string; cents: number };
const balances = actor<number, Deposit>({
  name: 'balances',
  key: (m) => m.data.account,
  initial: () => 0,
  handle: (balance, msg, ctx) => {
    if (msg.kind === 'timer') return balance;
    const next = balance + msg.data.cents;
    ctx.emit('bank.balance.changed', { account: ctx.key, balance: next, from: msg.subject });
    return next;
  },
});

// One file mixing a routed stream, an actor fed by it, and a pipeline over the actor's outputs.
const mixed = (stateDir: string) =>
  defineTopology('mixed', (t) => {
    const deposits = t.stream<Deposit>('BANK_IN', 'bank.deposits.>').pipe(filter((e) => e.data.cents !== 0));
    const changes = t.actor(balances, deposits, { stateDir, reportEveryMs: 0, emits: { stream: 'BANK_OUT', subjects: ['bank.balance.>'] } });
    return changes.pipe(t.sink('bank.audit', { durable: true }));
  });

/** The stream's messages, decoded, with their ids (read with the shared helper). */
async function readAll(transport: Transport, stream: string): Promise<Array<{ subject: string; data: unknown; msgId: string | undefined }>> {
  return (await readStream(transport, stream)).map((m) => ({
    subject: m.subject,
    data: decodeEnvelope(m, msgpackCodec).data,
    msgId: m.headers['Nats-Msg-Id'],
  }));
}

describe('t.actor: an actor as a part of a topology', () => {
  it('describe shows the hand-over to the actor and its outputs as exactly-once paths', () => {
    const text = formatTopologyDescription(describeTopology(mixed('/nonexistent')));
    expect(text).toContain('BANK_IN (bank.deposits.>) -> sluice.actor.mixed.balances.*.tell  exactly-once');
    expect(text).toContain('actor balances -> bank.balance.>  exactly-once');
    expect(text).toContain('BANK_OUT (bank.balance.>) -> bank.audit  exactly-once');
  });

  it('with subjects, the actor reads its own stream itself (no hand-over); with readBack: false, nothing reads its outputs', () => {
    const direct = defineTopology('direct', (t) => {
      t.actor(balances, undefined, {
        stream: 'BANK_DIRECT',
        subjects: ['bank.direct.>'],
        emits: { stream: 'BANK_OUT', subjects: ['bank.balance.>'], readBack: false },
      });
    });
    const description = describeTopology(direct);
    const text = formatTopologyDescription(description);
    expect(text).toContain('actor balances  reads its own stream BANK_DIRECT (bank.direct.>, sluice.actor.direct.balances.*.tell');
    expect(text).not.toContain('-> sluice.actor.direct.balances.*.tell');
    expect(description.nodes.filter((n) => n.kind === 'stream' || n.kind === 'sink')).toEqual([]);
  });

  it('runs stream -> filter -> actor -> sink in one topology, each output once, state correct across a restart', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'sluice-mount-'));
    dirs.push(stateDir);
    const transport = await NatsTransport.connect({ servers: server().url });
    await transport.ensureStream({ name: 'BANK_IN', subjects: ['bank.deposits.>'] });
    await transport.ensureStream({ name: 'AUDIT', subjects: ['bank.audit'] });
    const publish = async (from: number, to: number) => {
      for (let i = from; i <= to; i++) {
        await transport.publishDurable(
          `bank.deposits.${i % 2 === 0 ? 'web' : 'branch'}`,
          msgpackCodec.encode({ account: `acc-${i % 3}`, cents: i % 5 === 0 ? 0 : 100 }),
        );
      }
    };
    const logger = pino({ level: 'silent' });
    await publish(1, 30);
    let run = await runTopology(mixed(stateDir), { transport, logger, report: () => undefined, closeTransport: false, service: false });
    await until(async () => (await transport.streamState('AUDIT')).messages === 24);
    await run.stop();
    await publish(31, 60);
    run = await runTopology(mixed(stateDir), { transport, logger, report: () => undefined, closeTransport: false, service: false });
    await until(async () => (await transport.streamState('AUDIT')).messages === 48);
    await new Promise((r) => setTimeout(r, 300));
    await run.stop();

    const changes = await readAll(transport, 'BANK_OUT');
    expect(changes).toHaveLength(48);
    expect(new Set(changes.map((c) => c.msgId)).size).toBe(48);
    const last = new Map<string, number>();
    for (const c of changes) {
      const d = c.data as { account: string; balance: number; from: string };
      expect(d.from).toMatch(/^bank\.deposits\.(web|branch)$/);
      last.set(d.account, d.balance);
    }
    // 60 deposits, every fifth is 0 (filtered): per account 16 deposits of 100.
    expect(Object.fromEntries(last)).toEqual({ 'acc-0': 1600, 'acc-1': 1600, 'acc-2': 1600 });
    expect(await readAll(transport, 'AUDIT')).toHaveLength(48);
    await transport.close();
  });

  // No outputs: a view others read through the topology's responder.
  const sums = actor<number, Deposit>({
    name: 'sums',
    key: (m) => m.data.account,
    initial: () => 0,
    handle: (sum, msg) => (msg.kind === 'message' ? sum + msg.data.cents : sum),
  });

  it('several inputs (an array) feed one actor: describe follows each to its stream, each path exactly-once', () => {
    const text = formatTopologyDescription(
      describeTopology(
        defineTopology('two-in', (t) => {
          t.actor(sums, [t.stream<Deposit>('A_IN', 'a.deposits'), t.stream<Deposit>('B_IN', 'b.deposits')], { stateDir: '/nonexistent' });
        }),
      ),
    );
    expect(text).toContain('A_IN (a.deposits) -> sluice.actor.two-in.sums.*.tell  exactly-once');
    expect(text).toContain('B_IN (b.deposits) -> sluice.actor.two-in.sums.*.tell  exactly-once');
  });

  it('runTopology resolves once its actor has started: another connection can query its state at once', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'sluice-mount-'));
    dirs.push(stateDir);
    const transport = await NatsTransport.connect({ servers: server().url });
    const requester = await NatsTransport.connect({ servers: server().url });
    const topology = defineTopology('ready-at-once', (t) => {
      t.actor(sums, t.stream<Deposit>('READY_IN', 'ready.deposits'), { stateDir, reportEveryMs: 0 });
    });
    const run = await runTopology(topology, { transport, logger: pino({ level: 'silent' }), report: () => undefined, closeTransport: false, service: false });
    // No retry: a responder not yet subscribed answers NoRespondersError.
    const answer = await queryActorState<number>(requester, { topology: 'ready-at-once', actor: 'sums' }, 'acc-0', { timeoutMs: 2_000 });
    expect(answer).toMatchObject({ state: 0, found: false });
    await run.stop();
    await requester.close();
    await transport.close();
  });

  it('t.actorState(def) reads the committed state in-process: a t.respond handler answers from it; unknown key, long key, after stop', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'sluice-mount-'));
    dirs.push(stateDir);
    const transport = await NatsTransport.connect({ servers: server().url });
    await transport.ensureStream({ name: 'QBANK_IN', subjects: ['qbank.deposits'] });
    let handle: ActorStateReader<number> | undefined;
    const topology = defineTopology('query-mixed', (t) => {
      t.actor(sums, t.stream<Deposit>('QBANK_IN', 'qbank.deposits'), { stateDir, reportEveryMs: 0 });
      const view = (handle = t.actorState(sums));
      t.respond<{ account: string }, { balance: number; found: boolean }>(
        'qbank.balance',
        async (req) => {
          const answer = await view.get(req.data.account);
          return { balance: answer.state, found: answer.found };
        },
        { deadlineMs: 2_000, fallback: () => ({ balance: -1, found: false }) },
      );
    });
    const run = await runTopology(topology, { transport, logger: pino({ level: 'silent' }), report: () => undefined, closeTransport: false, service: false });
    for (let i = 1; i <= 10; i++) await transport.publishDurable('qbank.deposits', msgpackCodec.encode({ account: `acc-${i % 2}`, cents: i }));
    // Another connection, as any service would be (the topology's own connection does not get its own messages back).
    const requester = await NatsTransport.connect({ servers: server().url });
    const ask = async (account: string) =>
      msgpackCodec.decode((await requester.request('qbank.balance', msgpackCodec.encode({ account }), { timeoutMs: 2_000 })).data) as {
        balance: number;
        found: boolean;
      };
    // Committed state only: it catches up with the stream, never shows a half-done batch.
    await until(async () => (await retryUntilOk(() => ask('acc-0'))).balance === 30 && (await ask('acc-1')).balance === 25, { what: 'balances 30 and 25' });
    expect(await ask('nobody')).toEqual({ balance: 0, found: false });
    expect(await handle!.get('acc-1')).toEqual({ state: 25, found: true, stopped: false });
    expect(handle!.read('acc-1')).toEqual({ state: 25, found: true, stopped: false });
    // A key no actor can have (past 1,024 bytes) has no state.
    expect(await handle!.get('k'.repeat(2_000))).toEqual({ state: 0, found: false, stopped: false });
    await run.stop();
    await expect(handle!.get('acc-1')).rejects.toThrow();
    await requester.close();
    await transport.close();
  });

  // What each input's key function meets on the hand-over, whatever the pipeline's supervision.
  type Entry = { account: string; n: number };
  const seen = actor<number[], Entry>({
    name: 'seen',
    key: (m) => {
      if (m.data.account === 'throw') throw new TypeError(`no account for entry ${m.data.n}`);
      return m.data.account;
    },
    initial: () => [],
    handle: (ns, msg) => (msg.kind === 'message' ? [...ns, msg.data.n] : ns),
  });

  it.each(['resume', 'stop'] as const)(
    "supervision '%s': a key over 1,024 bytes, an empty key and a throwing key function are one dead letter each at the hand-over; no restart, the rest reach the actor once",
    async (supervision) => {
      const stateDir = mkdtempSync(join(tmpdir(), 'sluice-mount-'));
      dirs.push(stateDir);
      const name = uniqueName('badkeys');
      const stream = name.toUpperCase().replace(/-/g, '_');
      const subject = `${name}.entries`;
      const transport = await NatsTransport.connect({ servers: server().url });
      const jsm = await jetstreamManager(transport.nc);
      await transport.ensureStream({ name: stream, subjects: [subject] });
      const warnings: string[] = [];
      const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push((JSON.parse(line) as { msg: string }).msg) });
      let view: ActorStateReader<number[]> | undefined;
      const topology = defineTopology(
        name,
        (t) => {
          t.actor(seen, t.stream<Entry>(stream, subject, { durableName: 'reader' }), { stateDir, reportEveryMs: 0 });
          view = t.actorState(seen);
        },
        { supervision },
      );
      const run = await runTopology(topology, { transport, logger, report: () => undefined, closeTransport: false, service: false });
      let ended = false;
      void run.done.then(() => (ended = true));
      try {
        const accounts = ['acc-a', 'k'.repeat(1_025), 'acc-b', '', 'acc-a', 'throw', 'acc-b', 'acc-a'];
        const sent = new Map<number, Uint8Array>();
        const publish = async (account: string, n: number) => {
          const bytes = msgpackCodec.encode({ account, n });
          const ack = await transport.publishDurable(subject, bytes);
          sent.set(ack.seq, bytes);
        };
        for (const [i, account] of accounts.entries()) await publish(account, i + 1);
        await until(async () => (await jsm.consumers.info(stream, 'reader')).ack_floor.stream_seq === accounts.length, { what: 'every input settled' });
        // The run keeps going: later inputs reach the actor too.
        await publish('acc-b', 9);
        await until(async () => (await view!.get('acc-b')).state.length === 3, { what: "acc-b's third entry" });

        expect(ended).toBe(false);
        expect(await view!.get('acc-a')).toMatchObject({ state: [1, 5, 8], found: true });
        expect(await view!.get('acc-b')).toMatchObject({ state: [3, 7, 9], found: true });
        const consumer = await jsm.consumers.info(stream, 'reader');
        expect(consumer.num_redelivered).toBe(0);
        expect(consumer.ack_floor.stream_seq).toBe(accounts.length + 1);
        expect(warnings.filter((w) => /restart|stopping the topology/.test(w))).toEqual([]);

        const dead = (await readStream(transport, deadLetterStreamName(name))).map((m) => decodeDeadLetter(m.data));
        expect(dead.map((d) => [d.seq, d.error.name, d.operator, d.subject, d.stream, d.payloadSource])).toEqual([
          [2, 'KeyTooLongError', 'actor:seen', subject, stream, 'raw'],
          [4, 'InvalidActorKeyError', 'actor:seen', subject, stream, 'raw'],
          [6, 'InvalidActorKeyError', 'actor:seen', subject, stream, 'raw'],
        ]);
        for (const d of dead) expect([...d.payload]).toEqual([...sent.get(d.seq!)!]);
        expect(dead[0]!.error.message).toBe(
          `actor 'seen': the key of the message on subject '${subject}' (seq 2) is 1025 bytes, longer than the 1024 bytes an actor key may be`,
        );
        expect(dead[1]!.error.message).toContain('key must be a non-empty string');
        expect(dead[2]!.error.message).toContain('TypeError: no account for entry 6');
      } finally {
        await run.stop();
        await transport.close();
      }
    },
    30_000,
  );

  // Stops a key on a negative amount, so there is something to reset.
  const strict = actor<number, Entry>({
    name: 'strict',
    key: (m) => m.data.account,
    initial: () => 0,
    supervision: 'stop-key',
    handle: (sum, msg) => {
      if (msg.kind !== 'message') return sum;
      if (msg.data.n < 0) throw new Error(`negative: ${msg.data.n}`);
      return sum + msg.data.n;
    },
  });

  it.each([false, true])(
    'allowControl %s: resetActorKey is acted on only when the run allows control, refused as a replay is (403, the same reason)',
    async (allowControl) => {
      const stateDir = mkdtempSync(join(tmpdir(), 'sluice-mount-'));
      dirs.push(stateDir);
      const name = uniqueName('resets');
      const stream = name.toUpperCase();
      const subject = `${name}.entries`;
      const transport = await NatsTransport.connect({ servers: server().url });
      const operator = await NatsTransport.connect({ servers: server().url });
      await transport.ensureStream({ name: stream, subjects: [subject] });
      let view: ActorStateReader<number> | undefined;
      const topology = defineTopology(name, (t) => {
        t.actor(strict, t.stream<Entry>(stream, subject), { stateDir, reportEveryMs: 0 });
        view = t.actorState(strict);
      });
      const run = await runTopology(topology, { transport, logger: pino({ level: 'silent' }), report: () => undefined, closeTransport: false, allowControl });
      try {
        for (const n of [5, -1, 7]) await transport.publishDurable(subject, msgpackCodec.encode({ account: 'acc', n }));
        await until(async () => (await transport.streamState(deadLetterStreamName(name))).messages === 2, { what: 'the failure and the stopped key' });
        expect(await view!.get('acc')).toMatchObject({ state: 5, stopped: true });

        const address = { topology: name, actor: 'strict' };
        const reset = resetActorKey(operator, address, 'acc', { timeoutMs: 5_000 });
        // A replay that selects nothing: allowed, it changes nothing here.
        const replay = await operator.request(`sluice.svc.${name}.replay`, new TextEncoder().encode('{"subject":"nothing.here"}'), { timeoutMs: 5_000 });
        if (!allowControl) {
          const refused = await reset.catch((err: unknown) => err);
          expect(refused).toBeInstanceOf(ControlNotAllowedError);
          expect((refused as Error).message).toBe(
            `reset of actor 'strict' is disabled for topology '${name}': run it with --allow-control (runTopology option allowControl)`,
          );
          // The same refusal as the replay endpoint's: code 403, the same reason but for what was refused.
          expect(replay.headers).toMatchObject({
            'Nats-Service-Error-Code': '403',
            'Nats-Service-Error': `replay is disabled for topology '${name}': run it with --allow-control (runTopology option allowControl)`,
          });
          expect(await view!.get('acc')).toMatchObject({ state: 5, stopped: true });
          const dead = (await readStream(transport, deadLetterStreamName(name))).map((m) => decodeDeadLetter(m.data));
          expect(dead.map((d) => d.error.name)).toEqual(['Error', 'KeyStoppedError', 'ControlNotAllowedError']);
        } else {
          await reset;
          expect(replay.headers['Nats-Service-Error-Code']).toBeUndefined();
          expect(JSON.parse(new TextDecoder().decode(replay.data))).toMatchObject({ replayed: 0 });
          expect((await view!.get('acc')).stopped).toBe(false);
          await transport.publishDurable(subject, msgpackCodec.encode({ account: 'acc', n: 1 }));
          await until(async () => (await view!.get('acc')).state === 6, { what: 'the key handling input again' });
        }
      } finally {
        await run.stop();
        await operator.close();
        await transport.close();
      }
    },
    30_000,
  );
});
