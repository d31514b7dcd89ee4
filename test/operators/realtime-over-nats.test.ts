import { jetstreamManager } from '@nats-io/jetstream';
import { pino } from 'pino';
import { filter, firstValueFrom, from, map, mergeMap, take, timeout, toArray, type Observable, type Subscription } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEnvelope } from '../../src/codec/decode-envelope.js';
import { msgpackCodec } from '../../src/codec/msgpack-codec.js';
import type { Envelope } from '../../src/envelope/envelope.js';
import { NatsTransport } from '../../src/transport/nats/nats-transport.js';
import { check } from '../../operators/check.js';
import type { DeadLetterRecord } from '../../src/dead-letter/dead-letter-record.js';
import { route } from '../../operators/route.js';
import { defineTopology } from '../../src/runtime/define-topology.js';
import { runTopology } from '../../src/runtime/run-topology.js';
import { isDeadLettered } from '../../src/dead-letter/dead-letter-record.js';
import { uniqueName, useNatsServer } from '../helpers/nats-server.js';

type Payment = { amount: number; currency: string };
type Score = { ok: boolean };

/**
 * route + check wired to a real nats-server: payments come in on core NATS, a fraud service
 * answers (or does not) over request/reply, and the verdict routes each payment.
 */
describe('route + check over a real nats-server', () => {
  const server = useNatsServer();
  let transport: NatsTransport;
  const subs: Subscription[] = [];

  beforeAll(async () => {
    transport = await NatsTransport.connect({ servers: server().url });
  });
  afterAll(async () => {
    for (const s of subs) s.unsubscribe();
    await transport?.close();
  });

  const collect = <T>(subject: string, count: number, decode: (e: Envelope<Uint8Array>) => T): Promise<T[]> =>
    firstValueFrom(transport.subscribe(subject).pipe(map(decode), take(count), toArray(), timeout(10_000)));

  it('answers, denies on timeout, dead-letters on no responders, and routes by the verdict', async () => {
    const p = uniqueName('pay');
    const subjects = { input: `${p}.in.>`, score: `${p}.fraud.score`, approved: `${p}.approved`, rejected: `${p}.rejected`, dlq: `sluice.dlq.${p}` };

    // The fraud service: only EUR has a scorer; 666 is never answered.
    subs.push(
      transport.subscribe(`${subjects.score}.EUR`).subscribe((req) => {
        const payment = msgpackCodec.decode(req.data) as Payment;
        if (payment.amount === 666 || req.reply === undefined) return;
        transport.publish(req.reply, msgpackCodec.encode({ ok: payment.amount < 1_000 } satisfies Score));
      }),
    );

    const approved = collect(subjects.approved, 1, (e) => (msgpackCodec.decode(e.data) as Payment).amount);
    const rejected = collect(subjects.rejected, 2, (e) => (msgpackCodec.decode(e.data) as Payment).amount);
    const dead = collect(subjects.dlq, 1, (e) => msgpackCodec.decode(e.data) as DeadLetterRecord);

    const pipeline: Observable<unknown> = transport.subscribe(subjects.input).pipe(
      map((raw) => decodeEnvelope<Payment>(raw)),
      check<Payment, Score>({
        name: 'fraud',
        request: (env) =>
          from(transport.request(`${subjects.score}.${env.data.currency}`, env.raw!, { timeoutMs: 2_000 })).pipe(
            map((r) => msgpackCodec.decode(r.data) as Score),
          ),
        timeoutMs: 300,
        onTimeout: 'deny',
        onError: 'dead-letter',
        maxInFlight: 8,
      }),
      mergeMap((c) => {
        if (c.kind === 'dead-letter') {
          transport.publish(subjects.dlq, msgpackCodec.encode(c.record));
          return [];
        }
        const ok = c.outcome === 'answered' ? c.reply.ok : c.outcome.endsWith('-allowed');
        return [{ ...c.envelope, data: { ...c.envelope.data, ok } }];
      }),
      route<Payment & { ok: boolean }>({
        name: 'verdict',
        rules: [{ subject: `${p}.in.*`, when: (e) => e.data.ok, to: subjects.approved }],
        otherwise: subjects.rejected,
      }),
      filter((r) => r.kind === 'routed'),
      map((r) => transport.publish(r.to, r.envelope.raw!, { headers: r.envelope.headers })),
    );
    subs.push(pipeline.subscribe());
    await transport.flush();

    const send = (region: string, payment: Payment) => transport.publish(`${p}.in.${region}`, msgpackCodec.encode(payment));
    send('eu', { amount: 10, currency: 'EUR' });
    send('eu', { amount: 5_000, currency: 'EUR' });
    send('eu', { amount: 666, currency: 'EUR' });
    send('us', { amount: 20, currency: 'XXX' });
    await transport.flush();

    expect(await approved).toEqual([10]);
    expect((await rejected).sort((a, b) => a - b)).toEqual([666, 5_000]);
    const [record] = await dead;
    expect(record).toMatchObject({
      v: 1,
      operator: 'check:fraud',
      subject: `${p}.in.us`,
      error: { name: 'NoRespondersError' },
      payloadSource: 'raw',
      attempts: 1,
    });
    expect(msgpackCodec.decode(record!.payload)).toEqual({ amount: 20, currency: 'XXX' });
  });

  it('on a JetStream stream, keeps each payment unacknowledged until its verdict is published or its dead letter stored', async () => {
    const p = uniqueName('settle');
    const stream = `PAY_${p}`;
    const subjects = { input: `${p}.in`, score: `${p}.fraud.score`, out: `${p}.verdict` };
    await transport.ensureStream({ name: stream, subjects: [subjects.input] });
    await transport.ensureStream({ name: `OUT_${p}`, subjects: [subjects.out] });
    const jsm = await jetstreamManager(transport.nc);
    const pending = async (): Promise<{ ackPending: number; redelivered: number; waiting: number }> => {
      const info = await jsm.consumers.info(stream, `sluice_${p}_${stream}`);
      return { ackPending: info.num_ack_pending, redelivered: info.num_redelivered, waiting: info.num_pending };
    };
    const until = async (what: () => Promise<boolean>): Promise<void> => {
      for (let i = 0; i < 200 && !(await what()); i++) await new Promise((r) => setTimeout(r, 25));
      expect(await what()).toBe(true);
    };

    // The fraud service answers only when the test says so; 666 is never answered.
    const asked: Array<{ amount: number; answer: () => void }> = [];
    subs.push(
      transport.subscribe(subjects.score).subscribe((req) => {
        const payment = msgpackCodec.decode(req.data) as Payment;
        asked.push({
          amount: payment.amount,
          answer: () => transport.publish(req.reply!, msgpackCodec.encode({ ok: payment.amount < 1_000 } satisfies Score)),
        });
      }),
    );
    const run = await runTopology(
      defineTopology(p, (t) =>
        t.stream<Payment>(stream, subjects.input, { ackWaitMs: 10_000 }).pipe(
          check<Payment, Score>({
            name: 'fraud',
            request: (env) => from(t.transport.request(subjects.score, env.raw!, { timeoutMs: 5_000 })).pipe(map((r) => msgpackCodec.decode(r.data) as Score)),
            timeoutMs: 400,
            onTimeout: 'dead-letter',
            onError: 'deny',
          }),
          map((c) => (isDeadLettered(c) || c.outcome !== 'answered' ? c : { verdict: c.reply.ok, amount: c.envelope.data.amount })),
          t.sink(subjects.out, { durable: true }),
        ),
      ),
      { transport, closeTransport: false, service: false, logger: pino({ level: 'silent' }), report: () => undefined },
    );
    try {
      await transport.publishDurable(subjects.input, msgpackCodec.encode({ amount: 10, currency: 'EUR' }));
      await until(async () => asked.length === 1);
      // Asked, not answered: the payment is delivered and still unacknowledged.
      expect(await pending()).toEqual({ ackPending: 1, redelivered: 0, waiting: 0 });
      const verdict = firstValueFrom(transport.subscribe(subjects.out).pipe(take(1), timeout(10_000)));
      asked[0]!.answer();
      expect(msgpackCodec.decode((await verdict).data)).toEqual({ verdict: true, amount: 10 });
      await until(async () => (await pending()).ackPending === 0);

      // Never answered: dead-lettered at the timeout, acknowledged once the dead letter is stored.
      await transport.publishDurable(subjects.input, msgpackCodec.encode({ amount: 666, currency: 'EUR' }));
      await until(async () => (await transport.streamState(`SLUICE_DLQ_${p}`)).messages === 1);
      await until(async () => (await pending()).ackPending === 0);
      expect(await pending()).toEqual({ ackPending: 0, redelivered: 0, waiting: 0 });
      expect((await transport.streamState(`OUT_${p}`)).messages).toBe(1);
    } finally {
      await run.stop();
    }
  });
});
