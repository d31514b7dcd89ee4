import fc from 'fast-check';
import type { DeadLetterRecord } from '../../../src/dead-letter/dead-letter-record.js';
import { VirtualTimeScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { actor } from '../../../src/actors/actor.js';
import { createActorProcessor, timerKey, type ActorRecord } from '../../../src/actors/actor-processor.js';
import { MAX_ACTOR_KEY_BYTES, MAX_TIMER_ID_BYTES } from '../../../src/actors/actor-limits.js';
import type { StoredTimer } from '../../../src/actors/types.js';
import { jsonCodec } from '../../../src/codec/json-codec.js';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import { makeEnvelope } from '../../../src/envelope/make-envelope.js';
import type { Envelope } from '../../../src/envelope/envelope.js';
import { FakeStore, streamMessage } from './fake-txn.js';

type Cmd = { sku: string; n: number };
const keyOf = (m: Envelope<Cmd>): string => m.data.sku;
const topology = 'shop';
const msg = (seq: number, sku: string, n = 1) => streamMessage({ subject: 'in.cmd', seq, data: { sku, n } });

function counter(extra: Partial<Parameters<typeof actor<number, Cmd>>[0]> = {}) {
  return actor<number, Cmd>({
    name: 'counter',
    key: keyOf,
    initial: () => 0,
    handle: (s, m, ctx) => {
      const next = s + (m.kind === 'message' ? m.data.n : 0);
      ctx.emit('out.count', { sku: ctx.key, total: next });
      return next;
    },
    supervision: 'skip',
    ...extra,
  });
}

describe('createActorProcessor', () => {
  it('dead-letters a key past MAX_ACTOR_KEY_BYTES (counted in UTF-8 bytes) as KeyTooLongError; other keys go on', async () => {
    const store = new FakeStore();
    const p = createActorProcessor(counter(), { topology });
    const longest = 'k'.repeat(MAX_ACTOR_KEY_BYTES);
    const euros = '€'.repeat(342); // 342 characters, 1026 bytes
    await store.run(p.process, [msg(1, 'a'), msg(2, longest + 'k'), msg(3, longest), msg(4, euros), msg(5, 'a')]);
    expect(store.read<ActorRecord<number>>(p.namespaces.state, 'a')).toEqual({ s: 2, q: 5 });
    expect(store.read<ActorRecord<number>>(p.namespaces.state, longest)).toEqual({ s: 1, q: 3 });
    const dead = store.decodedOutputs('sluice.dlq.shop.counter') as DeadLetterRecord[];
    expect(dead.map((d) => [d.seq, d.error.name, d.key])).toEqual([
      [2, 'KeyTooLongError', undefined],
      [4, 'KeyTooLongError', undefined],
    ]);
    expect(dead[1]!.error.message).toBe(
      `actor 'counter': the key of the message on subject 'in.cmd' (seq 4) is 1026 bytes, longer than the 1024 bytes an actor key may be`,
    );
  });

  it('dead-letters a tell whose subject carries a key past the limit', async () => {
    const store = new FakeStore();
    const p = createActorProcessor(counter(), { topology });
    const token = `~${Buffer.from('x.'.repeat(600)).toString('base64url')}`; // 1200 bytes, not a plain token
    await store.run(p.process, [streamMessage({ subject: `${p.subjects.base}.${token}.tell`, seq: 1, data: { sku: 'x', n: 1 } }), msg(2, 'a')]);
    expect((store.decodedOutputs('sluice.dlq.shop.counter') as DeadLetterRecord[]).map((d) => d.error.name)).toEqual(['KeyTooLongError']);
    expect(store.read<ActorRecord<number>>(p.namespaces.state, 'a')).toEqual({ s: 1, q: 2 });
  });

  it('a timer id past MAX_TIMER_ID_BYTES is a TerminalError: the message is dead-lettered, the key carries on', async () => {
    const store = new FakeStore();
    const def = actor<number, Cmd>({
      name: 'timed',
      key: keyOf,
      initial: () => 0,
      handle: (s, m, ctx) => {
        if (m.kind === 'message' && m.data.n > 1) ctx.setTimer('t'.repeat(MAX_TIMER_ID_BYTES + m.data.n - 2), { afterMs: 10 });
        if (m.kind === 'message' && m.data.n < 0) ctx.cancelTimer('t'.repeat(MAX_TIMER_ID_BYTES + 1));
        return s + 1;
      },
      supervision: 'retry',
    });
    const p = createActorProcessor(def, { topology });
    await store.run(p.process, [msg(1, 'a', 2), msg(2, 'a', 3), msg(3, 'a', -1), msg(4, 'a', 1)]);
    const dead = store.decodedOutputs('sluice.dlq.shop.timed') as DeadLetterRecord[];
    expect(dead.map((d) => [d.seq, d.error.name, d.attempts])).toEqual([
      [2, 'TerminalError', 1],
      [3, 'TerminalError', 1],
    ]);
    expect(dead[0]!.error.message).toBe(`setTimer: 'timerId' is 257 bytes, longer than the 256 bytes a timer id may be`);
    expect(store.read<ActorRecord<number>>(p.namespaces.state, 'a')).toMatchObject({ s: 2, q: 4 });
    expect(store.read<StoredTimer>(p.namespaces.timers, timerKey('a', 't'.repeat(MAX_TIMER_ID_BYTES)))).toBeDefined();
  });

  it("folds each key's messages in stream order and commits state + outputs through the txn", async () => {
    const store = new FakeStore();
    const p = createActorProcessor(counter(), { topology });
    await store.run(p.process, [msg(1, 'a', 1), msg(2, 'b', 10), msg(3, 'a', 2)]);
    await store.run(p.process, [msg(4, 'a', 3)]);
    expect(store.read<ActorRecord<number>>(p.namespaces.state, 'a')).toEqual({ s: 6, q: 4 });
    expect(store.read<ActorRecord<number>>(p.namespaces.state, 'b')).toEqual({ s: 10, q: 2 });
    expect(store.outputs.map((o) => o.id).sort()).toEqual(['IN.1.0', 'IN.2.0', 'IN.3.0', 'IN.4.0']);
    expect(store.decodedOutputs('out.count').filter((o) => (o as Cmd).sku === 'a')).toEqual([
      { sku: 'a', total: 1 },
      { sku: 'a', total: 3 },
      { sku: 'a', total: 6 },
    ]);
    expect(store.outputs[0]!.headers).toMatchObject({ 'Content-Type': 'application/msgpack', 'Sluice-Key': 'a' });
  });

  it('never runs two handlers of one key at once, but runs different keys concurrently', async () => {
    const active = new Map<string, number>();
    let maxSameKey = 0;
    let maxAll = 0;
    let all = 0;
    const def = actor<number, Cmd>({
      name: 'slow',
      key: keyOf,
      initial: () => 0,
      handle: async (s, m, ctx) => {
        const now = (active.get(ctx.key) ?? 0) + 1;
        active.set(ctx.key, now);
        all += 1;
        maxSameKey = Math.max(maxSameKey, now);
        maxAll = Math.max(maxAll, all);
        for (let i = 0; i < (m.seq ?? 0) % 5; i++) await Promise.resolve();
        active.set(ctx.key, now - 1);
        all -= 1;
        return s + 1;
      },
    });
    const store = new FakeStore();
    const p = createActorProcessor(def, { topology });
    const batch = Array.from({ length: 40 }, (_, i) => msg(i + 1, `k${i % 4}`));
    await store.run(p.process, batch);
    expect(maxSameKey).toBe(1);
    expect(maxAll).toBeGreaterThan(1);
    expect(store.read<ActorRecord<number>>(p.namespaces.state, 'k0')?.s).toBe(10);
  });

  it('does not overlap batches when the engine calls process before the previous one settled', async () => {
    const order: number[] = [];
    const def = actor<number, Cmd>({
      name: 'o',
      key: keyOf,
      initial: () => 0,
      handle: async (s, m) => {
        await Promise.resolve();
        order.push(m.seq!);
        return s + 1;
      },
    });
    const store = new FakeStore();
    const p = createActorProcessor(def, { topology });
    const t1 = store.begin();
    const t2 = store.begin();
    const r1 = p.process([msg(1, 'a'), msg(2, 'a')], t1);
    const r2 = p.process([msg(3, 'a')], t2);
    await Promise.all([r1, r2]);
    expect(order).toEqual([1, 2, 3]);
  });

  it('keeps at most maxKeysInMemory keys cached, and evicted keys come back from the store', async () => {
    const store = new FakeStore();
    const p = createActorProcessor(counter({ maxKeysInMemory: 50 }), { topology });
    for (let round = 0; round < 3; round++) {
      const batch = Array.from({ length: 1000 }, (_, i) => msg(round * 1000 + i + 1, `sku-${i}`));
      await store.run(p.process, batch);
      expect(p.stats().keysInMemory).toBeLessThanOrEqual(50);
    }
    expect(store.read<ActorRecord<number>>(p.namespaces.state, 'sku-7')?.s).toBe(3);
    expect(p.stats().evictions).toBeGreaterThanOrEqual(2950);
  });

  it('passivates keys idle for passivateAfterMs (virtual time)', async () => {
    const scheduler = new VirtualTimeScheduler();
    const store = new FakeStore();
    const p = createActorProcessor(counter({ passivateAfterMs: 1000 }), { topology, scheduler });
    await store.run(p.process, [msg(1, 'a'), msg(2, 'b')]);
    scheduler.frame = 600;
    await store.run(p.process, [msg(3, 'b')]);
    expect(p.stats().keysInMemory).toBe(2);
    scheduler.frame = 1000;
    expect(p.sweep()).toBe(1);
    expect(p.stats().keysInMemory).toBe(1);
    await store.run(p.process, [msg(4, 'a')]);
    expect(store.read<ActorRecord<number>>(p.namespaces.state, 'a')?.s).toBe(2);
  });

  it('a batch replayed after a failed commit is not applied twice from the cache', async () => {
    const store = new FakeStore();
    const p = createActorProcessor(counter(), { topology });
    await store.run(p.process, [msg(1, 'a', 1)]);
    await p.process([msg(2, 'a', 5), msg(3, 'b', 7)], store.begin()); // never committed
    await store.run(p.process, [msg(2, 'a', 5), msg(3, 'b', 7)]);
    expect(store.read<ActorRecord<number>>(p.namespaces.state, 'a')?.s).toBe(6);
    expect(store.read<ActorRecord<number>>(p.namespaces.state, 'b')?.s).toBe(7);
  });

  it('skips a message the stored state already includes', async () => {
    const store = new FakeStore();
    const p = createActorProcessor(counter(), { topology });
    await store.run(p.process, [msg(1, 'a', 1), msg(2, 'a', 1)]);
    const fresh = createActorProcessor(counter(), { topology });
    await store.run(fresh.process, [msg(2, 'a', 1), msg(3, 'a', 1)]);
    expect(store.read<ActorRecord<number>>(p.namespaces.state, 'a')?.s).toBe(3);
    expect(fresh.stats().alreadyApplied).toBe(1);
  });

  it('fails the whole batch when the txn throws, and drops the touched keys from the cache', async () => {
    const store = new FakeStore();
    const p = createActorProcessor(counter(), { topology });
    await store.run(p.process, [msg(1, 'a', 1)]);
    const txn = store.begin();
    txn.failOnEmit = true;
    await expect(p.process([msg(2, 'a', 1)], txn)).rejects.toThrow('emit failed');
    expect(p.stats().keysInMemory).toBe(0);
    await store.run(p.process, [msg(2, 'a', 1)]);
    expect(store.read<ActorRecord<number>>(p.namespaces.state, 'a')?.s).toBe(2);
  });

  it('dead-letters undecodable input and input without a key, with the original bytes', async () => {
    const store = new FakeStore();
    const p = createActorProcessor(counter(), { topology });
    const garbage = new Uint8Array([0xc1, 0xff]);
    await store.run(p.process, [
      streamMessage({ subject: 'in.cmd', seq: 1, raw: garbage }),
      streamMessage({ subject: 'in.cmd', seq: 2, data: { n: 1 } }),
      msg(3, 'a'),
    ]);
    const dl = store.decodedOutputs('sluice.dlq.shop.counter') as DeadLetterRecord[];
    expect(dl.map((d) => [d.seq, d.error.name, d.attempts, d.key])).toEqual([
      [1, 'DecodeError', 0, undefined],
      [2, 'InvalidActorKeyError', 0, undefined],
    ]);
    expect(dl[0]).toMatchObject({ v: 1, operator: 'actor:counter', subject: 'in.cmd', stream: 'IN', id: 'IN:1', payloadSource: 'raw' });
    expect([...dl[0]!.payload]).toEqual([0xc1, 0xff]);
    expect(store.read<ActorRecord<number>>(p.namespaces.state, 'a')?.s).toBe(1);
  });

  it("ignores other actors' tell/timer/reset messages on a shared input stream", async () => {
    const store = new FakeStore();
    const p = createActorProcessor(counter(), { topology });
    await store.run(p.process, [streamMessage({ subject: 'sluice.actor.shop.other.k.tell', seq: 1, data: { x: 1 } }), msg(2, 'a')]);
    expect(store.outputs.map((o) => o.subject)).toEqual(['out.count']);
  });

  it('clearState deletes the record, and the next message starts from initial', async () => {
    const def = actor<number, Cmd>({
      name: 'c',
      key: keyOf,
      initial: () => 100,
      handle: (s, m, ctx) => {
        if (m.kind === 'message' && m.data.n === 0) ctx.clearState();
        return s + 1;
      },
    });
    const store = new FakeStore();
    const p = createActorProcessor(def, { topology });
    await store.run(p.process, [msg(1, 'a', 1), msg(2, 'a', 0)]);
    expect(store.read(p.namespaces.state, 'a')).toBeUndefined();
    await store.run(p.process, [msg(3, 'a', 1)]);
    expect(store.read<ActorRecord<number>>(p.namespaces.state, 'a')?.s).toBe(101);
  });

  it('messages told on <prefix>.<topology>.<actor>.<key>.tell reach that key; ctx.reply answers after commit', async () => {
    const published: { subject: string; data: unknown }[] = [];
    const io = {
      publish: (subject: string, data: Uint8Array) => void published.push({ subject, data: msgpackCodec.decode(data) }),
      request: () => Promise.reject(new Error('unused')),
    };
    const def = actor<number, Cmd>({
      name: 'counter',
      key: keyOf,
      initial: () => 0,
      handle: (s, m, ctx) => {
        ctx.reply({ was: s });
        return s + (m.kind === 'message' ? m.data.n : 0);
      },
    });
    const store = new FakeStore();
    const p = createActorProcessor(def, { topology, io });
    const tell = streamMessage({ subject: p.subjects.tell('a.b c'), seq: 1, data: { sku: 'ignored', n: 4 }, headers: { 'Sluice-Reply-To': '_INBOX.x' } });
    const txn = store.begin();
    await p.process([tell, msg(2, 'a.b c', 1)], txn);
    expect(published).toEqual([]);
    txn.commit();
    expect(published).toEqual([{ subject: '_INBOX.x', data: { was: 0 } }]);
    expect(store.read<ActorRecord<number>>(p.namespaces.state, 'a.b c')?.s).toBe(5);
  });
  it('ctx.ask requests another service and decodes the answer by its Content-Type; without a transport it dead-letters', async () => {
    const requests: string[] = [];
    const io = {
      publish() {},
      request: async (subject: string) => {
        requests.push(subject);
        return makeEnvelope({ subject: '_INBOX.x', data: jsonCodec.encode({ price: 42 }), headers: { 'Content-Type': 'application/json' } });
      },
    };
    const def = actor<number, Cmd>({
      name: 'asker',
      key: (m) => m.data.sku,
      initial: () => 0,
      supervision: 'skip',
      handle: async (s, _m, ctx) => s + (await ctx.ask<{ price: number }>('prices.get', { sku: ctx.key }, { timeoutMs: 100 })).price,
    });
    const store = new FakeStore();
    const p = createActorProcessor(def, { topology, io });
    await store.run(p.process, [msg(1, 'a')]);
    expect(requests).toEqual(['prices.get']);
    expect(store.read<ActorRecord<number>>(p.namespaces.state, 'a')?.s).toBe(42);
    const noIo = createActorProcessor(def, { topology });
    await store.run(noIo.process, [msg(2, 'b')]);
    expect(store.decodedOutputs('sluice.dlq.shop.asker')).toMatchObject([{ key: 'b', error: { name: 'TransportError' } }]);
  });
});

describe('durable timers in the processor', () => {
  type T = { sku: string; n: number; op?: 'set' | 'cancel' };
  const timerActor = () =>
    actor<string[], T, { note: string }>({
      name: 'timers',
      key: (m) => m.data.sku,
      initial: () => [],
      handle: (s, m, ctx) => {
        if (m.kind === 'timer') return [...s, `fired:${m.timerId}:${m.data.note}`];
        if (m.data.op === 'cancel') ctx.cancelTimer('hold');
        else ctx.setTimer('hold', { afterMs: 1000 }, { note: `n${m.data.n}` });
        return s;
      },
    });
  const firing = (p: { subjects: { timer(k: string): string } }, seq: number, t: StoredTimer) =>
    streamMessage({ subject: p.subjects.timer(t.key), seq, data: { timerId: t.timerId, instance: t.instance, dueAt: t.dueAt, payload: t.payload } });

  it('stores the timer with a replay-stable instance, tells the listener, and fires it exactly once', async () => {
    const scheduler = new VirtualTimeScheduler();
    scheduler.frame = 5_000;
    const set: StoredTimer[] = [];
    const store = new FakeStore();
    const p = createActorProcessor(timerActor(), { topology, scheduler, timers: { set: (t) => void set.push(t), cancel() {} } });
    await store.run(p.process, [streamMessage({ subject: 'in', seq: 7, data: { sku: 'a', n: 1 } })]);
    const stored = store.read<StoredTimer>(p.namespaces.timers, timerKey('a', 'hold'));
    expect(stored).toEqual({ key: 'a', timerId: 'hold', instance: 'IN:7:0', dueAt: 6_000, payload: { note: 'n1' } });
    expect(set).toEqual([stored]);
    await store.run(p.process, [firing(p, 8, stored!), firing(p, 9, stored!)]);
    expect(store.read<ActorRecord<string[]>>(p.namespaces.state, 'a')?.s).toEqual(['fired:hold:n1']);
    expect(store.read(p.namespaces.timers, timerKey('a', 'hold'))).toBeUndefined();
    expect(p.stats()).toMatchObject({ timersFired: 1, staleTimers: 1 });
  });

  it('ignores the firing of a cancelled or replaced timer', async () => {
    const store = new FakeStore();
    const cancelled: string[] = [];
    const p = createActorProcessor(timerActor(), { topology, timers: { set() {}, cancel: (k, id) => void cancelled.push(`${k}/${id}`) } });
    await store.run(p.process, [streamMessage({ subject: 'in', seq: 1, data: { sku: 'a', n: 1 } })]);
    const first = store.read<StoredTimer>(p.namespaces.timers, timerKey('a', 'hold'))!;
    await store.run(p.process, [streamMessage({ subject: 'in', seq: 2, data: { sku: 'a', n: 2 } })]);
    const second = store.read<StoredTimer>(p.namespaces.timers, timerKey('a', 'hold'))!;
    expect(second.instance).toBe('IN:2:0');
    await store.run(p.process, [firing(p, 3, first)]);
    expect(store.read<ActorRecord<string[]>>(p.namespaces.state, 'a')?.s).toEqual([]);
    await store.run(p.process, [streamMessage({ subject: 'in', seq: 4, data: { sku: 'a', n: 3, op: 'cancel' } }), firing(p, 5, second)]);
    expect(store.read<ActorRecord<string[]>>(p.namespaces.state, 'a')?.s).toEqual([]);
    expect(cancelled).toEqual(['a/hold']);
    expect(p.stats().staleTimers).toBe(2);
  });
});

describe('per-key order (property)', () => {
  it('for any interleaving, handler latency, batch cuts and uncommitted (replayed) batches, each key sees its messages once, in stream order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ key: fc.constantFrom('a', 'b', 'c', 'd'), latency: fc.nat(6) }), { minLength: 1, maxLength: 60 }),
        fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 20 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 1, max: 3 }),
        async (inputs, cuts, commitFails, maxKeysInMemory) => {
          const active = new Set<string>();
          let overlap = false;
          const def = actor<number[], { key: string; latency: number }>({
            name: 'order',
            key: (m) => m.data.key,
            initial: () => [],
            maxKeysInMemory,
            handle: async (seen, m, ctx) => {
              if (active.has(ctx.key)) overlap = true;
              active.add(ctx.key);
              for (let i = 0; i < (m.kind === 'message' ? m.data.latency : 0); i++) await Promise.resolve();
              active.delete(ctx.key);
              ctx.emit('out', { key: ctx.key, seq: m.seq });
              return [...seen, m.seq!];
            },
          });
          const store = new FakeStore();
          const p = createActorProcessor(def, { topology });
          const msgs = inputs.map((x, i) => streamMessage({ subject: 'in', seq: i + 1, data: x }));
          let pos = 0;
          for (let i = 0; pos < msgs.length; i++) {
            const batch = msgs.slice(pos, pos + cuts[i % cuts.length]!);
            if (commitFails[i % commitFails.length] === true) await p.process(batch, store.begin()); // crash before commit
            await store.run(p.process, batch);
            pos += batch.length;
          }
          expect(overlap).toBe(false);
          for (const key of ['a', 'b', 'c', 'd']) {
            const expected = msgs.filter((m) => inputs[m.seq - 1]!.key === key).map((m) => m.seq);
            expect(store.read<ActorRecord<number[]>>(p.namespaces.state, key)?.s ?? []).toEqual(expected);
            const outputs = (store.decodedOutputs('out') as { key: string; seq: number }[]).filter((o) => o.key === key).map((o) => o.seq);
            expect(outputs).toEqual(expected);
          }
        },
      ),
      { numRuns: Number(process.env.PROP_RUNS ?? 100) },
    );
  });
});

describe('timers fire exactly once (property)', () => {
  it('for any sets, cancels, stale and duplicate firings, batch cuts and uncommitted replays, a timer is handled iff its latest set was not cancelled or fired before', async () => {
    type Act = { type: 'set' | 'cancel' | 'fire'; key: number; id: number; pick: number };
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ type: fc.constantFrom('set', 'cancel', 'fire', 'fire'), key: fc.nat(1), id: fc.nat(1), pick: fc.nat(50) }), {
          minLength: 1,
          maxLength: 40,
        }),
        fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 10 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 10 }),
        async (acts: Act[], cuts, commitFails) => {
          const def = actor<string[], { op: 'set' | 'cancel'; key: string; id: string }, { n: number }>({
            name: 'tm',
            key: (m) => m.data.key,
            initial: () => [],
            handle: (s, m, ctx) => {
              if (m.kind === 'timer') return [...s, `${m.timerId}@${m.seq}`];
              if (m.data.op === 'set') ctx.setTimer(m.data.id, { afterMs: 10 }, { n: 1 });
              else ctx.cancelTimer(m.data.id);
              return s;
            },
          });
          const store = new FakeStore();
          const p = createActorProcessor(def, { topology });
          // Build the stream and the reference model side by side.
          const msgs: ReturnType<typeof streamMessage>[] = [];
          const sets: { key: string; id: string; instance: string }[] = [];
          const current = new Map<string, string | undefined>();
          const expected = new Map<string, string[]>([
            ['k0', []],
            ['k1', []],
          ]);
          for (const a of acts) {
            const seq = msgs.length + 1;
            const key = `k${a.key}`;
            const id = `t${a.id}`;
            if (a.type === 'fire') {
              const t = sets[a.pick % Math.max(1, sets.length)];
              if (t === undefined) continue;
              msgs.push(streamMessage({ subject: p.subjects.timer(t.key), seq, data: { timerId: t.id, instance: t.instance, dueAt: 0, payload: { n: 1 } } }));
              if (current.get(`${t.key}/${t.id}`) === t.instance) {
                expected.get(t.key)!.push(`${t.id}@${seq}`);
                current.set(`${t.key}/${t.id}`, undefined);
              }
            } else {
              msgs.push(streamMessage({ subject: 'in', seq, data: { op: a.type, key, id } }));
              const instance = `IN:${seq}:0`;
              if (a.type === 'set') sets.push({ key, id, instance });
              current.set(`${key}/${id}`, a.type === 'set' ? instance : undefined);
            }
          }
          let pos = 0;
          for (let i = 0; pos < msgs.length; i++) {
            const batch = msgs.slice(pos, pos + cuts[i % cuts.length]!);
            if (commitFails[i % commitFails.length] === true) await p.process(batch, store.begin());
            await store.run(p.process, batch);
            pos += batch.length;
          }
          for (const [key, fired] of expected) {
            expect(store.read<ActorRecord<string[]>>(p.namespaces.state, key)?.s ?? []).toEqual(fired);
          }
        },
      ),
      { numRuns: Number(process.env.PROP_RUNS ?? 100) },
    );
  });
});
