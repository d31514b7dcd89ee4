import fc from 'fast-check';
import { pino } from 'pino';
import { firstValueFrom, from, map, tap, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { decodeBatch, type DecodedBatch } from '../../operators/decode-batch.js';
import { microBatch } from '../../operators/micro-batch.js';
import { msgpackCodec } from '../../src/codec/msgpack-codec.js';
import { decodeDeadLetter } from '../../src/dead-letter/encode-dead-letter.js';
import type { Envelope } from '../../src/envelope/envelope.js';
import { makeEnvelope } from '../../src/envelope/make-envelope.js';
import { DecodeError, InvalidConfigError } from '../../src/errors.js';
import { defineTopology } from '../../src/runtime/define-topology.js';
import { runTopology } from '../../src/runtime/run-topology.js';
import { LocalTransport } from '../../src/transport/local/local-transport.js';

const ts = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const numRuns = Number(process.env.PROP_RUNS ?? 100);
const silent = pino({ level: 'silent' });

const raw = (seq: number, bytes: Uint8Array = msgpackCodec.encode({ n: seq })): Envelope<Uint8Array> =>
  makeEnvelope({ subject: 'orders.created', data: bytes, stream: 'ORDERS', seq });
const BAD = Uint8Array.from([0x82, 0xa1, 0x6e]); // a map of two entries cut after its first key
const summary = (b: DecodedBatch<{ n: number }>) => ({ ns: b.envelopes.map((e) => e.data.n), bad: b.deadLetters.map((d) => d.envelope.seq) });

describe('decodeBatch', () => {
  it('decodes each batch microBatch cuts, in order, when it is cut (virtual time)', () =>
    ts().run(({ cold, expectObservable }) => {
      const values = { a: raw(1), b: raw(2), c: raw(3) };
      const out = cold('a 3ms b 20ms c 30ms -|', values).pipe(
        microBatch({ maxCount: 10, maxWaitMs: 10 }),
        decodeBatch<{ n: number }>({ name: 'orders' }),
        map(summary),
      );
      expectObservable(out).toBe('10ms x 24ms y 21ms |', { x: { ns: [1, 2], bad: [] }, y: { ns: [3], bad: [] } });
    }));

  it('dead-letters only the bad message of a batch (virtual time)', () =>
    ts().run(({ cold, expectObservable }) => {
      const values = { a: raw(1), b: raw(2, BAD), c: raw(3) };
      const out = cold('abc|', values).pipe(microBatch({ maxCount: 3, maxWaitMs: 10 }), decodeBatch<{ n: number }>({ name: 'orders' }), map(summary));
      expectObservable(out).toBe('--x|', { x: { ns: [1, 3], bad: [2] } });
    }));

  it('gives each dead letter its record: operator, reason, original bytes', () => {
    const batch = [raw(1), raw(7, BAD), raw(3)];
    let out: DecodedBatch<{ n: number }> | undefined;
    from([batch])
      .pipe(decodeBatch<{ n: number }>({ name: 'orders' }))
      .subscribe((b) => (out = b));
    const [d] = out!.deadLetters;
    expect(d!.error).toBeInstanceOf(DecodeError);
    expect(d!.error.message).toMatch(/subject 'orders\.created'.*stream ORDERS, seq 7/);
    expect(d!.record.operator).toBe('decodeBatch:orders');
    expect([...d!.record.payload]).toEqual([...BAD]);
    expect(d!.record.payloadSource).toBe('raw');
    expect(d!.record.seq).toBe(7);
  });

  it('keeps batch order and splits good from bad, whatever the batch (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { maxLength: 40 }), (bad) => {
        const batch = bad.map((b, i) => raw(i + 1, b ? BAD : undefined));
        let out: DecodedBatch<{ n: number }> | undefined;
        from([batch])
          .pipe(decodeBatch<{ n: number }>({ name: 'p' }))
          .subscribe((b) => (out = b));
        expect(out!.envelopes.map((e) => e.data.n)).toEqual(bad.flatMap((b, i) => (b ? [] : [i + 1])));
        expect(out!.deadLetters.map((d) => d.envelope.seq)).toEqual(bad.flatMap((b, i) => (b ? [i + 1] : [])));
      }),
      { numRuns },
    );
  });

  it('refuses a config without a name', () => {
    expect(() => decodeBatch({ name: '' })).toThrow(InvalidConfigError);
    expect(() => decodeBatch(undefined as never)).toThrow(InvalidConfigError);
  });

  it('over a durable stream read with decode: false: good messages pass, the bad one is dead-lettered as it came, all are acked', async () => {
    const transport = new LocalTransport();
    await transport.ensureStream({ name: 'ORDERS', subjects: ['orders.created'] });
    for (const bytes of [msgpackCodec.encode({ n: 1 }), BAD, msgpackCodec.encode({ n: 3 })]) await transport.publishDurable('orders.created', bytes);
    const dlq = firstValueFrom(transport.subscribe('sluice.dlq.bulk'));
    const run = await runTopology(
      defineTopology('bulk', (t) =>
        t.stream('ORDERS', 'orders.created', { durableName: 'reader', decode: false }).pipe(
          microBatch({ maxCount: 3, maxWaitMs: 1000 }),
          decodeBatch<{ n: number }>({ name: 'orders' }),
          tap(({ deadLetters }) => deadLetters.forEach((d) => t.deadLetter(d.envelope, d.error, d.record.operator))),
          map(({ envelopes }) => envelopes.map((e) => e.data.n)),
          tap((ns) => expect(ns).toEqual([1, 3])),
          toArray(),
        ),
      ),
      { transport, logger: silent, closeTransport: false, report: () => undefined },
    );
    const record = decodeDeadLetter((await dlq).data);
    expect(record.operator).toBe('decodeBatch:orders');
    expect(record.seq).toBe(2);
    expect(record.subject).toBe('orders.created');
    expect(record.error.name).toBe('DecodeError');
    expect([...record.payload]).toEqual([...BAD]);
    await run.stop();
    // Nothing left for the durable consumer: all three were acknowledged.
    const again: number[] = [];
    const sub = transport.consume({ stream: 'ORDERS', durableName: 'reader' }).subscribe((m) => again.push(m.seq));
    await new Promise((r) => setTimeout(r, 30));
    sub.unsubscribe();
    expect(again).toEqual([]);
    await transport.close();
  });
});
