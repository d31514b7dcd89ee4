import { VirtualTimeScheduler } from 'rxjs';
import type { DeadLetterRecord } from '../../../src/dead-letter/dead-letter-record.js';
import { describe, expect, it } from 'vitest';
import { actor } from '../../../src/actors/actor.js';
import { createActorProcessor, type ActorRecord } from '../../../src/actors/actor-processor.js';
import type { Supervision } from '../../../src/actors/types.js';
import { TerminalError } from '../../../src/errors.js';
import type { Envelope } from '../../../src/envelope/envelope.js';
import { FakeStore, streamMessage } from './fake-txn.js';

type Cmd = { sku: string; n: number; failTimes?: number; terminal?: boolean };
const topology = 'shop';
const dlq = 'sluice.dlq.shop.flaky';
const msg = (seq: number, data: Cmd) => streamMessage({ subject: 'in.cmd', seq, data });

/** Fails `failTimes` attempts at a message (counted per seq), emitting before each throw. */
function flaky(supervision: Supervision) {
  const attemptsBySeq = new Map<number, number>();
  const def = actor<number, Cmd>({
    name: 'flaky',
    key: (m: Envelope<Cmd>) => m.data.sku,
    initial: () => 0,
    supervision,
    handle: (s, m, ctx) => {
      if (m.kind !== 'message') return s;
      const n = (attemptsBySeq.get(m.seq!) ?? 0) + 1;
      attemptsBySeq.set(m.seq!, n);
      ctx.emit('out.attempt', { seq: m.seq, attempt: ctx.attempt });
      if (m.data.terminal === true) throw new TerminalError('bad order');
      if (n <= (m.data.failTimes ?? 0)) throw new Error(`boom ${n}`);
      return s + m.data.n;
    },
  });
  return { def, attemptsBySeq };
}

/** Runs a batch to completion on a virtual clock, flushing timers whenever the processor waits. */
async function runVirtual(store: FakeStore, process: Parameters<FakeStore['run']>[0], batch: Parameters<FakeStore['run']>[1], scheduler: VirtualTimeScheduler) {
  let done = false;
  const run = store.run(process, batch).finally(() => (done = true));
  while (!done) {
    await new Promise((r) => setImmediate(r));
    scheduler.flush();
  }
  return run;
}

describe('supervision', () => {
  it("'retry' retries with exponential backoff in virtual time; only the successful attempt's effects count", async () => {
    const scheduler = new VirtualTimeScheduler();
    const store = new FakeStore();
    const { def } = flaky({ mode: 'retry', maxAttempts: 3, initialDelayMs: 100 });
    const p = createActorProcessor(def, { topology, scheduler });
    await runVirtual(store, p.process, [msg(1, { sku: 'a', n: 5, failTimes: 2 })], scheduler);
    expect(scheduler.frame).toBe(300);
    expect(store.decodedOutputs('out.attempt')).toEqual([{ seq: 1, attempt: 3 }]);
    expect(store.read<ActorRecord<number>>(p.namespaces.state, 'a')?.s).toBe(5);
    expect(store.decodedOutputs(dlq)).toEqual([]);
  });

  it("'retry' dead-letters after maxAttempts, keeps the old state and goes on with the key", async () => {
    const scheduler = new VirtualTimeScheduler();
    const store = new FakeStore();
    const { def } = flaky({ mode: 'retry', maxAttempts: 2, initialDelayMs: 10 });
    const p = createActorProcessor(def, { topology, scheduler });
    await runVirtual(store, p.process, [msg(1, { sku: 'a', n: 1 }), msg(2, { sku: 'a', n: 5, failTimes: 9 }), msg(3, { sku: 'a', n: 1 })], scheduler);
    const [dl] = store.decodedOutputs(dlq) as DeadLetterRecord[];
    expect(dl).toMatchObject({ seq: 2, key: 'a', attempts: 2, error: { name: 'Error', message: 'boom 2' }, subject: 'in.cmd', stream: 'IN' });
    expect(store.read<ActorRecord<number>>(p.namespaces.state, 'a')?.s).toBe(2);
  });

  it('a TerminalError is not retried', async () => {
    const store = new FakeStore();
    const { def, attemptsBySeq } = flaky({ mode: 'retry', maxAttempts: 5, initialDelayMs: 0 });
    const p = createActorProcessor(def, { topology });
    await store.run(p.process, [msg(1, { sku: 'a', n: 1, terminal: true })]);
    expect(attemptsBySeq.get(1)).toBe(1);
    expect(store.decodedOutputs(dlq)).toMatchObject([{ attempts: 1, error: { name: 'TerminalError' } }]);
    expect(store.decodedOutputs('out.attempt')).toEqual([]);
  });

  it("'skip' dead-letters the failing message and keeps the old state; other keys are unaffected", async () => {
    const store = new FakeStore();
    const { def } = flaky('skip');
    const p = createActorProcessor(def, { topology });
    await store.run(p.process, [msg(1, { sku: 'a', n: 1 }), msg(2, { sku: 'a', n: 7, failTimes: 1 }), msg(3, { sku: 'b', n: 2 }), msg(4, { sku: 'a', n: 1 })]);
    expect(store.read<ActorRecord<number>>(p.namespaces.state, 'a')?.s).toBe(2);
    expect(store.read<ActorRecord<number>>(p.namespaces.state, 'b')?.s).toBe(2);
    expect(store.decodedOutputs(dlq)).toMatchObject([{ seq: 2, attempts: 1 }]);
  });

  it("'stop-key' stops only that key, across restarts, until a reset message", async () => {
    const store = new FakeStore();
    const { def } = flaky('stop-key');
    const p = createActorProcessor(def, { topology });
    await store.run(p.process, [msg(1, { sku: 'a', n: 1 }), msg(2, { sku: 'a', n: 7, failTimes: 1 }), msg(3, { sku: 'a', n: 1 }), msg(4, { sku: 'b', n: 2 })]);
    expect(store.read<ActorRecord<number>>(p.namespaces.state, 'a')).toMatchObject({ s: 1, stop: { name: 'Error', seq: 2 } });
    expect(store.read<ActorRecord<number>>(p.namespaces.state, 'b')?.s).toBe(2);

    const restarted = createActorProcessor(flaky('stop-key').def, { topology, allowControl: true });
    await store.run(restarted.process, [msg(5, { sku: 'a', n: 1 })]);
    expect((store.decodedOutputs(dlq) as DeadLetterRecord[]).map((d) => [d.seq, d.error.name, d.attempts])).toEqual([
      [2, 'Error', 1],
      [3, 'KeyStoppedError', 0],
      [5, 'KeyStoppedError', 0],
    ]);

    await store.run(restarted.process, [streamMessage({ subject: restarted.subjects.reset('a'), seq: 6, raw: new Uint8Array() }), msg(7, { sku: 'a', n: 10 })]);
    expect(store.read<ActorRecord<number>>(p.namespaces.state, 'a')).toEqual({ s: 11, q: 7 });
  });

  it('a reset with { clearState: true } also clears the state', async () => {
    const store = new FakeStore();
    const { def } = flaky('stop-key');
    const p = createActorProcessor(def, { topology, allowControl: true });
    await store.run(p.process, [msg(1, { sku: 'a', n: 4 }), msg(2, { sku: 'a', n: 1, failTimes: 1 })]);
    await store.run(p.process, [streamMessage({ subject: p.subjects.reset('a'), seq: 3, data: { clearState: true } }), msg(4, { sku: 'a', n: 1 })]);
    expect(store.read<ActorRecord<number>>(p.namespaces.state, 'a')).toEqual({ s: 1, q: 4 });
  });

  it('without allowControl a reset is refused: a ControlNotAllowedError dead letter, a 403 answer to its inbox, the key stays stopped', async () => {
    const store = new FakeStore();
    const answers: Array<{ to: string; headers: Readonly<Record<string, string>> | undefined; bytes: number }> = [];
    const io = {
      publish: (to: string, data: Uint8Array, options?: { headers?: Readonly<Record<string, string>> | undefined }) =>
        void answers.push({ to, headers: options?.headers, bytes: data.length }),
      request: () => Promise.reject(new Error('no requests here')),
    };
    const p = createActorProcessor(flaky('stop-key').def, { topology, io });
    await store.run(p.process, [msg(1, { sku: 'a', n: 4 }), msg(2, { sku: 'a', n: 1, failTimes: 1 })]);
    const reset = streamMessage({ subject: p.subjects.reset('a'), seq: 3, data: { clearState: true }, headers: { 'Sluice-Reply-To': '_INBOX.asker' } });
    await store.run(p.process, [reset, msg(4, { sku: 'a', n: 1 })]);
    expect(store.read<ActorRecord<number>>(p.namespaces.state, 'a')).toMatchObject({ s: 4, stop: { seq: 2 } });
    const message = `reset of actor 'flaky' is disabled for topology 'shop': run it with --allow-control (runTopology option allowControl)`;
    expect((store.decodedOutputs(dlq) as DeadLetterRecord[]).map((d) => [d.seq, d.subject, d.key, d.attempts, d.error])).toEqual([
      [2, 'in.cmd', 'a', 1, { name: 'Error', message: 'boom 1' }],
      [3, p.subjects.reset('a'), 'a', 0, { name: 'ControlNotAllowedError', message }],
      [4, 'in.cmd', 'a', 0, expect.objectContaining({ name: 'KeyStoppedError' })],
    ]);
    expect(answers).toEqual([{ to: '_INBOX.asker', headers: { 'Nats-Service-Error': message, 'Nats-Service-Error-Code': '403' }, bytes: 0 }]);
  });

  it("retry with onExhausted 'stop-key' stops the key after the last attempt", async () => {
    const store = new FakeStore();
    const { def } = flaky({ mode: 'retry', maxAttempts: 2, initialDelayMs: 0, onExhausted: 'stop-key' });
    const p = createActorProcessor(def, { topology });
    await store.run(p.process, [msg(1, { sku: 'a', n: 1, failTimes: 5 }), msg(2, { sku: 'a', n: 1 })]);
    expect((store.decodedOutputs(dlq) as DeadLetterRecord[]).map((d) => d.error.name)).toEqual(['Error', 'KeyStoppedError']);
  });

  it('a throwing initial() dead-letters the message instead of failing the batch', async () => {
    const store = new FakeStore();
    const def = actor<number, Cmd>({
      name: 'flaky',
      key: (m) => m.data.sku,
      initial: (k) => {
        if (k === 'bad') throw new Error('no initial');
        return 0;
      },
      handle: (s) => s + 1,
    });
    const p = createActorProcessor(def, { topology });
    await store.run(p.process, [msg(1, { sku: 'bad', n: 1 }), msg(2, { sku: 'ok', n: 1 })]);
    expect(store.decodedOutputs(dlq)).toMatchObject([{ seq: 1, key: 'bad', error: { message: 'no initial' } }]);
    expect(store.read<ActorRecord<number>>(p.namespaces.state, 'ok')?.s).toBe(1);
  });
});
