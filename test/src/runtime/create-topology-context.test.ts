import { pino } from 'pino';
import { firstValueFrom, from, lastValueFrom, map, of, take, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { toDeadLetter, deadLettered } from '../../../src/dead-letter/dead-letter-record.js';
import { decodeEnvelope } from '../../../src/codec/decode-envelope.js';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import { makeEnvelope } from '../../../src/envelope/make-envelope.js';
import { InvalidSubjectError } from '../../../src/errors.js';
import { decodeDeadLetter } from '../../../src/dead-letter/encode-dead-letter.js';
import { defineTopology } from '../../../src/runtime/define-topology.js';
import { runTopology, type RunningTopology } from '../../../src/runtime/run-topology.js';
import type { TopologyContext } from '../../../src/runtime/types.js';
import { LocalTransport } from '../../../src/transport/local/local-transport.js';

const silent = pino({ level: 'silent' });
const runs: RunningTopology[] = [];
afterEach(async () => {
  await Promise.all(runs.splice(0).map((r) => r.stop()));
});

/** Runs a builder on a fresh local transport and hands back its context. */
async function withContext(build: (t: TopologyContext) => ReturnType<Parameters<typeof defineTopology>[1]>) {
  const transport = new LocalTransport();
  let ctx: TopologyContext | undefined;
  const run = await runTopology(
    defineTopology('ctx', (t) => ((ctx = t), build(t))),
    { transport, logger: silent, report: () => undefined },
  );
  runs.push(run);
  return { transport, ctx: ctx!, run };
}

describe('TopologyContext', () => {
  it('stream(): creates the stream and reads it in order with an ordered consumer', async () => {
    const got: number[] = [];
    const { transport } = await withContext((t) => t.stream<number>('ORDERS_A', 'a.orders.>').pipe(map((e) => void got.push(e.data))));
    // The stream is created on subscribe; wait for it rather than for a fixed time.
    for (let i = 0; i < 200; i++) {
      if (
        await transport.streamState('ORDERS_A').then(
          () => true,
          () => false,
        )
      )
        break;
      await new Promise((r) => setTimeout(r, 5));
    }
    for (let i = 1; i <= 5; i++) await transport.publishDurable(`a.orders.${i % 2}`, msgpackCodec.encode(i));
    for (let i = 0; i < 200 && got.length < 5; i++) await new Promise((r) => setTimeout(r, 5));
    expect(got).toEqual([1, 2, 3, 4, 5]);
  });

  it('stream(): with a durable consumer, acks what it passed on and terms undecodable messages', async () => {
    const transport = new LocalTransport();
    await transport.ensureStream({ name: 'ORDERS_B', subjects: ['b.orders'] });
    await transport.publishDurable('b.orders', msgpackCodec.encode('one'));
    await transport.publishDurable('b.orders', new Uint8Array([0x92, 0x01]));
    await transport.publishDurable('b.orders', msgpackCodec.encode('three'));
    const build = (t: TopologyContext) => t.stream<string>('ORDERS_B', 'b.orders', { durableName: 'reader', maxInFlight: 10 }).pipe(take(2), toArray());
    const run = await runTopology(
      defineTopology('durable', (t) => build(t).pipe(map((all) => all.map((e) => e.data)))),
      {
        transport,
        logger: silent,
        closeTransport: false,
        report: () => undefined,
      },
    );
    const exit = await run.done;
    expect(exit.reason).toBe('completed');
    expect(exit.stats.deadLetters).toBe(1);
    // A second reader with the same durable name gets nothing: all three were acked or termed.
    const again: string[] = [];
    const sub = transport.consume({ stream: 'ORDERS_B', durableName: 'reader' }).subscribe((m) => again.push(String(m.seq)));
    await new Promise((r) => setTimeout(r, 30));
    sub.unsubscribe();
    expect(again).toEqual([]);
    await transport.close();
  });

  it('sink(): envelopes keep their headers, event time and key, minus Nats-Msg-Id', async () => {
    const { transport, ctx } = await withContext(() => undefined);
    const seen = firstValueFrom(transport.subscribe('s.out'));
    const env = makeEnvelope({ subject: 's.in', data: { a: 1 }, headers: { 'Nats-Msg-Id': 'x1', 'X-Trace': 't' }, key: 'k1', eventTime: 42 });
    of(env).pipe(ctx.sink('s.out')).subscribe();
    const out = await seen;
    expect(out.headers).toEqual({ 'X-Trace': 't', 'Sluice-Event-Time': '42', 'Sluice-Key': 'k1', 'Content-Type': 'application/msgpack' });
    expect(decodeEnvelope(out).data).toEqual({ a: 1 });
  });

  it('sink(): a Routed envelope goes out byte for byte with the headers it came with, minus Nats-Msg-Id, plus its key', async () => {
    const { transport, ctx } = await withContext(() => undefined);
    const seen = firstValueFrom(transport.subscribe('r.>').pipe(take(2), toArray()));
    const raw = new Uint8Array([0x81, 0xa1, 0x61, 0x01]);
    // As they come off the wire: decoded from their bytes.
    const withHeaders = decodeEnvelope(makeEnvelope({ subject: 'in', data: raw, headers: { 'Nats-Msg-Id': 'x1', 'X-Trace': 't' }, key: 'k1' }));
    const bare = decodeEnvelope(makeEnvelope({ subject: 'in', data: new Uint8Array(raw) }));
    from([
      { kind: 'routed' as const, to: 'r.one', envelope: withHeaders },
      { kind: 'routed' as const, to: 'r.two', envelope: bare },
    ])
      .pipe(ctx.sink())
      .subscribe();
    const [one, two] = await seen;
    expect(one!.headers).toEqual({ 'X-Trace': 't', 'Sluice-Key': 'k1' });
    expect([...one!.data]).toEqual([...raw]);
    // no headers made up for headerless input: the publish stays header-free (cheapest path)
    expect(two!.headers).toEqual({});
    expect([...two!.data]).toEqual([...raw]);
  });

  it('sink(): a Routed envelope whose data a stage replaced (the spread kept `raw`) is encoded from its data, not forwarded as the old bytes', async () => {
    const { transport, ctx } = await withContext(() => undefined);
    const seen = firstValueFrom(transport.subscribe('r.mapped'));
    const arrived = decodeEnvelope<{ a: number }>(makeEnvelope({ subject: 'in', data: msgpackCodec.encode({ a: 1 }) }));
    const mapped = { ...arrived, data: { a: 1, b: 2 } };
    of({ kind: 'routed' as const, to: 'r.mapped', envelope: mapped })
      .pipe(ctx.sink())
      .subscribe();
    expect(decodeEnvelope(await seen).data).toEqual({ a: 1, b: 2 });
  });

  it('sink(): publishes in-band dead letters from operators to the dead-letter subject and passes them on', async () => {
    const { transport, ctx } = await withContext(() => undefined);
    const dlq = firstValueFrom(transport.subscribe('sluice.dlq.ctx'));
    const env = makeEnvelope({ subject: 'o.in', data: 1, raw: new Uint8Array([1]), stream: 'S', seq: 7 });
    const passed: unknown[] = [];
    of(deadLettered(env, new Error('rule failed'), 3, { operator: 'route:o', failedAt: 1 }))
      .pipe(ctx.sink('o.out'))
      .subscribe((v) => passed.push(v));
    const record = decodeDeadLetter((await dlq).data);
    expect(record).toEqual({ ...toDeadLetter(env, new Error('rule failed'), 3, { operator: 'route:o', failedAt: 1 }), payload: new Uint8Array([1]) });
    expect(passed).toHaveLength(1);
  });

  it('sink({ durable: true }): waits for the stream ack before passing on', async () => {
    const { transport, ctx } = await withContext(() => undefined);
    await transport.ensureStream({ name: 'OUT_D', subjects: ['d.out'] });
    const passed = await lastValueFrom(from([1, 2, 3]).pipe(ctx.sink<number>('d.out', { durable: true }), toArray()));
    expect(passed.sort()).toEqual([1, 2, 3]);
    expect((await transport.streamState('OUT_D')).messages).toBe(3);
    expect(ctx.stats.total('published', 'd.out')).toBe(3);
  });

  it('validates subjects when the operator is created', async () => {
    const { ctx } = await withContext(() => undefined);
    expect(() => ctx.sink('bad.*')).toThrow(InvalidSubjectError);
    expect(() => ctx.source('')).toThrow(InvalidSubjectError);
    expect(() => ctx.publish('a..b', 1)).toThrow(InvalidSubjectError);
    expect(() => ctx.stream('S', 's.>', { reReadUnackedWithinMs: -1 })).toThrow("'reReadUnackedWithinMs' must be an integer >= 0, got -1");
  });

  it('deadLetter(): never throws, even for data that cannot be encoded', async () => {
    const { transport, ctx } = await withContext(() => undefined);
    const dlq = firstValueFrom(transport.subscribe('sluice.dlq.ctx'));
    expect(() => ctx.deadLetter(makeEnvelope({ subject: 'x', data: { f: () => 1 } }), 'plain string thrown')).not.toThrow();
    const record = decodeDeadLetter((await dlq).data);
    expect(record.error).toEqual({ name: 'Error', message: 'plain string thrown' });
    expect(record.operator).toBe('topology:ctx');
  });
});

describe('TopologyContext sources with decode: false', () => {
  it('source(): passes each message on as it came, its bytes undecoded (even bytes that would not decode)', async () => {
    const got: Uint8Array[] = [];
    const { transport } = await withContext((t) => t.source('raw.in', { decode: false }).pipe(map((e) => void got.push(e.data))));
    const bytes = [msgpackCodec.encode({ a: 1 }), new Uint8Array([0xc1])];
    for (const b of bytes) transport.publish('raw.in', b);
    for (let i = 0; i < 200 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
    expect(got.map((b) => Uint8Array.from(b))).toEqual(bytes.map((b) => Uint8Array.from(b)));
  });

  it('refuses decode: false with a schema, and a decode that is not a boolean', async () => {
    const schema = { '~standard': { version: 1, vendor: 'test', validate: (v: unknown) => ({ value: v }) } } as const;
    await withContext((t) => {
      expect(() => t.source('a', { decode: false, schema })).toThrow(/source 'a'.*schema.*decode: false/);
      expect(() => t.stream('S', 'a', { decode: false, schema })).toThrow(/stream 'S'.*schema.*decode: false/);
      expect(() => t.source('a', { decode: 'no' as never })).toThrow(/decode.*must be a boolean, got no/);
      return of(1);
    });
  });
});
