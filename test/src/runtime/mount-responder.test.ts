import fc from 'fast-check';
import { delay, EMPTY, NEVER, of, throwError, timer, map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { jsonCodec } from '../../../src/codec/json-codec.js';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import type { Envelope } from '../../../src/envelope/envelope.js';
import { defineTopology } from '../../../src/runtime/define-topology.js';
import { RESPOND_HEADERS } from '../../../src/runtime/mount-responder.js';
import { runTopology } from '../../../src/runtime/run-topology.js';
import { startTestDriver } from '../../../src/testing/topology-test-driver.js';
import { NatsTransport } from '../../../src/transport/nats/nats-transport.js';
import { pino } from 'pino';
import { useNatsServer } from '../../helpers/nats-server.js';

type Payment = { id: string; amount: number; slowMs?: number; fail?: 'throw' | 'error' | 'empty' };
type Verdict = { allow: boolean; by: string };

const fraud = defineTopology('fraud', (t) => {
  t.respond<Payment, Verdict>(
    'fraud.check',
    (req) => {
      const p = req.data;
      if (p.fail === 'throw') throw new Error(`cannot score ${p.id}`);
      if (p.fail === 'error') return throwError(() => new Error('rules store down'));
      if (p.fail === 'empty') return EMPTY;
      if (p.slowMs === undefined) return { allow: p.amount <= 1_000, by: 'rules' };
      return of({ allow: p.amount <= 1_000, by: 'rules' }).pipe(delay(p.slowMs, t.scheduler));
    },
    // Too slow: allow small amounts, deny the rest (a function of the request).
    { deadlineMs: 50, fallback: (req, reason) => ({ allow: req.data.amount <= 100, by: reason }) },
  );
});

const ask = async (driver: Awaited<ReturnType<typeof startTestDriver>>, p: Payment, advanceMs = 0) => {
  const pending = driver.transport.request('fraud.check', msgpackCodec.encode(p), { timeoutMs: 10_000 });
  await driver.settle(); // the request has reached the responder
  await driver.advanceTime(advanceMs);
  const r = await pending;
  return { headers: r.headers, body: r.data.length === 0 ? undefined : (msgpackCodec.decode(r.data) as Verdict) };
};

describe('t.respond: a topology answers requests itself', () => {
  it('replies with the handler, synchronously or within the deadline, else with the fallback of the request (virtual time)', async () => {
    const driver = await startTestDriver(fraud, { scheduler: 'manual' });
    expect((await ask(driver, { id: 'p1', amount: 10 })).body).toEqual({ allow: true, by: 'rules' });
    const inTime = await ask(driver, { id: 'p2', amount: 5_000, slowMs: 49 }, 49);
    expect(inTime).toEqual({ headers: expect.objectContaining({ [RESPOND_HEADERS.outcome]: 'answered' }), body: { allow: false, by: 'rules' } });
    const late = await ask(driver, { id: 'p3', amount: 50, slowMs: 51 }, 51);
    expect(late).toEqual({ headers: expect.objectContaining({ [RESPOND_HEADERS.outcome]: 'deadline' }), body: { allow: true, by: 'deadline' } });
    expect((await ask(driver, { id: 'p4', amount: 500, slowMs: 10_000 }, 50)).body).toEqual({ allow: false, by: 'deadline' });
    expect(await driver.deadLetters()).toEqual([]);
    await driver.stop();
  });

  it('answers failures with a NATS service error reply and dead-letters the request with its bytes', async () => {
    const driver = await startTestDriver(fraud, { scheduler: 'manual' });
    for (const fail of ['throw', 'error', 'empty'] as const) {
      const r = await ask(driver, { id: `f-${fail}`, amount: 1, fail });
      expect(r.body).toBeUndefined();
      expect(r.headers[RESPOND_HEADERS.outcome]).toBe('error');
      expect(r.headers[RESPOND_HEADERS.errorCode]).toBe('500');
    }
    const bad = await driver.transport.request('fraud.check', new Uint8Array([0xc1]), { timeoutMs: 1_000 });
    expect(bad.headers[RESPOND_HEADERS.errorCode]).toBe('400');
    expect(bad.headers[RESPOND_HEADERS.error]).toMatch(/^DecodeError: /);
    const dead = await driver.deadLetters();
    expect(dead.map((d) => [d.operator, d.error.name, d.subject])).toEqual([
      ['respond:fraud.check', 'Error', 'fraud.check'],
      ['respond:fraud.check', 'Error', 'fraud.check'],
      ['respond:fraud.check', 'NoReplyError', 'fraud.check'],
      ['respond:fraud.check', 'DecodeError', 'fraud.check'],
    ]);
    expect((msgpackCodec.decode(dead[0]!.payload) as Payment).id).toBe('f-throw');
    expect([...dead[3]!.payload]).toEqual([0xc1]);
    await driver.stop();
  });

  it('replies in the request’s codec, and counts every reply under one _INBOX.> key in stats', async () => {
    const driver = await startTestDriver(fraud, { scheduler: 'manual' });
    const r = await driver.transport.request('fraud.check', jsonCodec.encode({ id: 'j', amount: 3 }), {
      timeoutMs: 1_000,
      headers: { 'Content-Type': jsonCodec.contentType },
    });
    expect(r.headers['Content-Type']).toBe(jsonCodec.contentType);
    expect(jsonCodec.decode(r.data)).toEqual({ allow: true, by: 'rules' });
    for (let i = 0; i < 20; i++) await ask(driver, { id: `s${i}`, amount: i });
    const published = driver.running.stats.snapshot().published;
    expect(Object.keys(published).filter((s) => s.startsWith('_INBOX'))).toEqual(['_INBOX.>']);
    expect(published['_INBOX.>']).toBe(21);
    expect(driver.running.stats.snapshot().received['fraud.check']).toBe(21);
    await driver.stop();
  });

  it('past maxInFlight the fallback answers at once ("overloaded"); bad options fail at build', async () => {
    const held = defineTopology('held', (t) => {
      t.respond<Payment, string>('held.q', () => NEVER, { deadlineMs: 1_000, maxInFlight: 2, fallback: (req, reason) => `${req.data.id}:${reason}` });
    });
    const driver = await startTestDriver(held, { scheduler: 'manual' });
    const replies = ['a', 'b', 'c'].map((id) => driver.transport.request('held.q', msgpackCodec.encode({ id, amount: 1 }), { timeoutMs: 10_000 }));
    await driver.settle();
    await driver.advanceTime(1_000);
    expect((await Promise.all(replies)).map((r) => msgpackCodec.decode(r.data))).toEqual(['a:deadline', 'b:deadline', 'c:overloaded']);
    await driver.stop();
    const bad = (options: object) => startTestDriver(defineTopology('bad', (t) => t.respond('x', () => 1, options as never)));
    await expect(bad({ fallback: () => 0 })).rejects.toThrow(/deadlineMs/);
    await expect(bad({ deadlineMs: 10 })).rejects.toThrow(/fallback/);
  });
});

describe('t.respond: property', () => {
  it('every request gets exactly one reply: the handler’s when it is faster than the deadline, else the fallback', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 40 }),
        async (delays, deadlineMs, maxInFlight) => {
          const topology = defineTopology('prop', (t) => {
            t.respond<number, string>('q', (req) => timer(delays[req.data]!, t.scheduler).pipe(map(() => `h${req.data}`)), {
              deadlineMs,
              maxInFlight,
              fallback: (req, reason) => `${reason}${req.data}`,
            });
          });
          const driver = await startTestDriver(topology, { scheduler: 'manual' });
          const replies = delays.map((_, i) => driver.transport.request('q', msgpackCodec.encode(i), { timeoutMs: 1_000_000 }));
          await driver.settle();
          await driver.advanceTime(50);
          const got = (await Promise.all(replies)).map((r) => msgpackCodec.decode(r.data) as string);
          await driver.stop();
          got.forEach((reply, i) => {
            // All arrive at once: the first maxInFlight are handled, the rest overloaded.
            if (i >= maxInFlight) expect(reply).toBe(`overloaded${i}`);
            else if (delays[i]! < deadlineMs) expect(reply).toBe(`h${i}`);
            else if (delays[i]! > deadlineMs) expect(reply).toBe(`deadline${i}`);
            else expect([`h${i}`, `deadline${i}`]).toContain(reply);
          });
        },
      ),
      { numRuns: Number(process.env.PROP_RUNS ?? 25) },
    );
  });
});

describe('t.respond over a real nats-server', () => {
  const server = useNatsServer();
  it('a plain NATS requester gets answers; handler errors come back as service errors', async () => {
    const transport = await NatsTransport.connect({ servers: server().url });
    const run = await runTopology(fraud, { transport, logger: pino({ level: 'silent' }), report: () => undefined, closeTransport: false, service: false });
    const requester = await NatsTransport.connect({ servers: server().url });
    const ok = await requester.request('fraud.check', msgpackCodec.encode({ id: 'n1', amount: 20 }), { timeoutMs: 2_000 });
    expect(msgpackCodec.decode(ok.data)).toEqual({ allow: true, by: 'rules' });
    const late = await requester.request('fraud.check', msgpackCodec.encode({ id: 'n2', amount: 20, slowMs: 500 }), { timeoutMs: 2_000 });
    expect(msgpackCodec.decode(late.data)).toEqual({ allow: true, by: 'deadline' });
    const err = await requester.request('fraud.check', msgpackCodec.encode({ id: 'n3', amount: 20, fail: 'throw' }), { timeoutMs: 2_000 });
    expect([err.headers[RESPOND_HEADERS.errorCode], err.headers[RESPOND_HEADERS.error]]).toEqual(['500', 'Error: cannot score n3']);
    expect(Object.keys(run.stats.snapshot().published).filter((s) => s.startsWith('_INBOX'))).toEqual(['_INBOX.>']);
    await run.stop();
    await requester.close();
    await transport.close();
  });
});

void (null as unknown as Envelope<unknown>);
