import { pino } from 'pino';
import { map, NEVER, Subject, VirtualTimeScheduler, type Observable } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { decodeEnvelope } from '../../../src/codec/decode-envelope.js';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import type { Envelope } from '../../../src/envelope/envelope.js';
import { makeEnvelope } from '../../../src/envelope/make-envelope.js';
import { TerminalError } from '../../../src/errors.js';
import { streamSource, type StreamSourceDeps } from '../../../src/runtime/stream-source.js';
import type { StreamSourceOptions } from '../../../src/runtime/types.js';
import { currentSettlement, holdCurrent } from '../../../src/settle/settle-scope.js';
import type { Settlement } from '../../../src/settle/settlement.js';
import type { ConsumeOptions, StreamMessage, Transport } from '../../../src/transport/transport.js';

/** A delivered message whose ack calls are recorded. */
function message(seq: number, deliveryCount = 1, data: Uint8Array = msgpackCodec.encode(seq)) {
  const calls: string[] = [];
  const msg: StreamMessage = Object.assign(makeEnvelope({ subject: 'in', data, stream: 'S', seq }), {
    stream: 'S',
    seq,
    deliveryCount,
    ack: () => void calls.push('ack'),
    nak: (delayMs?: number) => void calls.push(`nak ${delayMs}`),
    term: () => void calls.push('term'),
    working: () => void calls.push('working'),
  });
  return { msg, calls };
}

/** A stream source over a Subject of messages, on a virtual clock; the consumer is live once `ready` resolves. */
function setup(options: StreamSourceOptions = {}, deadLetter: StreamSourceDeps['deadLetter'] = () => undefined) {
  const delivered = new Subject<StreamMessage>();
  const scheduler = new VirtualTimeScheduler();
  let unsettled = 0;
  const consumed: ConsumeOptions[] = [];
  const transport = { ensureStream: () => Promise.resolve(), consume: (o: ConsumeOptions) => (consumed.push(o), delivered) } as unknown as Transport;
  const deps: StreamSourceDeps = {
    topologyName: 't',
    transport,
    logger: pino({ level: 'silent' }),
    scheduler,
    closing$: NEVER,
    decodeOr: <T>(raw: Envelope<Uint8Array>) => decodeEnvelope<T>(raw),
    deadLetter,
    unsettled: { add: (n) => void (unsettled += n) },
  };
  const source = <T>() => streamSource<T>(deps, 'S', ['in'], 'reader', options, msgpackCodec);
  return {
    source,
    deliver: (m: StreamMessage) => delivered.next(m),
    /** Delivers on the virtual clock at `ms` (run by `advanceTo`). */
    deliverAt: (ms: number, m: StreamMessage) => void scheduler.schedule(() => delivered.next(m), ms - scheduler.now()),
    /** Runs the virtual clock up to `ms`. */
    advanceTo: (ms: number) => {
      scheduler.maxFrames = ms;
      scheduler.flush();
    },
    unsettled: () => unsettled,
    /** The options each consume call got. */
    consumed,
  };
}

const subscriptions: { unsubscribe(): void }[] = [];
afterEach(() => subscriptions.splice(0).forEach((s) => s.unsubscribe()));

/** Subscribes and waits until the (async) stream creation has happened and the consumer is live. */
async function start<T>(pipeline: Observable<T>, next: (v: T) => void = () => undefined, error: (e: unknown) => void = () => undefined) {
  subscriptions.push(pipeline.subscribe({ next, error }));
  await new Promise((r) => setImmediate(r));
}

describe('streamSource (durable consumer)', () => {
  it('acks a message as soon as the stages it went through are done with it', async () => {
    const s = setup();
    const seen: number[] = [];
    await start(s.source<number>(), (e) => seen.push(e.data));
    const one = message(1);
    s.deliver(one.msg);
    expect(seen).toEqual([1]);
    expect(one.calls).toEqual(['ack']);
    expect(s.unsettled()).toBe(0);
  });

  it('holds the ack while a stage holds the message, keeping it alive every third of the ack wait', async () => {
    const s = setup({ ackWaitMs: 300 });
    const held: Settlement[] = [];
    await start(s.source<number>().pipe(map((e) => (held.push(holdCurrent()!), e))));
    const one = message(1);
    s.deliver(one.msg);
    expect(one.calls).toEqual([]);
    expect(s.unsettled()).toBe(1);
    s.advanceTo(99);
    expect(one.calls).toEqual([]);
    s.advanceTo(100);
    expect(one.calls).toEqual(['working']);
    s.advanceTo(250);
    expect(one.calls).toEqual(['working', 'working']);
    held[0]!.release();
    expect(one.calls).toEqual(['working', 'working', 'ack']);
    expect(s.unsettled()).toBe(0);
    s.advanceTo(1000);
    expect(one.calls).toEqual(['working', 'working', 'ack']);
  });

  it('keeps alive only what is still held, from when it arrived', async () => {
    const s = setup({ ackWaitMs: 300 });
    const held = new Map<number, Settlement>();
    await start(s.source<number>().pipe(map((e) => (e.data % 2 === 0 ? held.set(e.data, holdCurrent()!) : undefined, e))));
    const [a, b, c] = [message(1), message(2), message(4)];
    s.deliver(a.msg);
    s.deliver(b.msg);
    s.deliverAt(150, c.msg);
    s.advanceTo(200);
    // b arrived at 0 (kept alive at 100 and 200); c at 150 is not yet a third of the wait old.
    expect([a.calls, b.calls, c.calls]).toEqual([['ack'], ['working', 'working'], []]);
    s.advanceTo(300);
    expect(c.calls).toEqual(['working']);
  });

  it('redelivers a message whose effect failed, after a backoff doubling per delivery up to 30 s', async () => {
    const s = setup({ maxDeliveries: 10 });
    await start(s.source<number>().pipe(map((e) => (currentSettlement()!.fail(new Error(`effect of ${e.data} failed`)), e))));
    const cases = [message(1, 1), message(2, 3), message(3, 7)];
    for (const m of cases) s.deliver(m.msg);
    expect(cases.map((m) => m.calls)).toEqual([['nak 1000'], ['nak 4000'], ['nak 30000']]);
  });

  it('after its last delivery, dead-letters a failing message (with its delivery count as attempts) and acks it once the dead letter is stored', async () => {
    let dlqHold: Settlement | undefined;
    const deadLetter = vi.fn(() => void (dlqHold = holdCurrent()));
    const s = setup({ maxDeliveries: 3 }, deadLetter);
    await start(s.source<number>().pipe(map((e) => (currentSettlement()!.fail(new Error('boom')), e))));
    const last = message(9, 3);
    s.deliver(last.msg);
    expect(deadLetter).toHaveBeenCalledWith(last.msg, expect.objectContaining({ message: 'boom' }), 'stream:S', 3);
    expect(last.calls).toEqual([]);
    dlqHold!.release();
    expect(last.calls).toEqual(['ack']);
  });

  it("dead-letters at once, on its first delivery, a message failed under 'resume' supervision (naming the part) or with a TerminalError", async () => {
    let dlqHold: Settlement | undefined;
    const deadLetter = vi.fn(() => void (dlqHold = holdCurrent()));
    const s = setup({ maxDeliveries: 5 }, deadLetter);
    await start(
      s.source<number>().pipe(
        map((e) => {
          if (e.data === 1) currentSettlement()!.fail(new TypeError('bad input 1'), 'resume', 'pipeline 1');
          if (e.data === 2) currentSettlement()!.fail(new TerminalError('cannot ever handle 2'));
          return e;
        }),
      ),
    );
    const resumed = message(1, 1);
    s.deliver(resumed.msg);
    expect(deadLetter).toHaveBeenLastCalledWith(resumed.msg, expect.objectContaining({ message: 'bad input 1' }), 'pipeline 1', 1);
    expect(resumed.calls).toEqual([]);
    dlqHold!.release();
    expect(resumed.calls).toEqual(['ack']);
    const terminal = message(2, 1);
    s.deliver(terminal.msg);
    expect(deadLetter).toHaveBeenLastCalledWith(terminal.msg, expect.objectContaining({ name: 'TerminalError' }), 'stream:S', 1);
    dlqHold!.release();
    expect(terminal.calls).toEqual(['ack']);
  });

  it("names the part in the dead letter of a message failed under 'retry' once its deliveries are used up", async () => {
    const deadLetter = vi.fn();
    const s = setup({ maxDeliveries: 2 }, deadLetter);
    await start(s.source<number>().pipe(map((e) => (currentSettlement()!.fail(new Error('erp down'), 'retry', 'settleMap:erp'), e))));
    const first = message(4, 1);
    s.deliver(first.msg);
    expect(first.calls).toEqual(['nak 1000']);
    s.deliver(message(4, 2).msg);
    expect(deadLetter).toHaveBeenCalledWith(expect.objectContaining({ seq: 4 }), expect.objectContaining({ message: 'erp down' }), 'settleMap:erp', 2);
  });

  it('redelivers a message whose dead letter could not be stored', async () => {
    const s = setup({ maxDeliveries: 1, ackWaitMs: 5000 }, () => {
      const h = holdCurrent()!;
      h.fail(new Error('dead-letter stream unavailable'));
      h.release();
    });
    await start(s.source<number>().pipe(map((e) => (currentSettlement()!.fail(new Error('boom')), e))));
    const last = message(9, 1);
    s.deliver(last.msg);
    expect(last.calls).toEqual(['nak 5000']);
  });
});

describe('streamSource (ordered: true)', () => {
  it('passes messages on and acknowledges nothing', async () => {
    const s = setup({ ordered: true });
    const seen: number[] = [];
    await start(s.source<number>(), (e) => seen.push(e.data));
    const one = message(1);
    s.deliver(one.msg);
    s.advanceTo(100_000);
    expect(seen).toEqual([1]);
    expect(one.calls).toEqual([]);
  });
});

describe('streamSource restart order', () => {
  it('asks the consumer to re-read from its ack floor after a crash within 60 s by default, or as configured', async () => {
    const byDefault = setup();
    await start(byDefault.source());
    const off = setup({ reReadUnackedWithinMs: 0 });
    await start(off.source());
    expect([byDefault.consumed[0]?.reReadUnackedWithinMs, off.consumed[0]?.reReadUnackedWithinMs]).toEqual([60_000, 0]);
  });
});
