import { filter, firstValueFrom, from, map, mergeMap, take, timeout, toArray, type Observable, type Subscription } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEnvelope } from '../../src/codec/decode-envelope.js';
import { msgpackCodec } from '../../src/codec/msgpack-codec.js';
import type { Envelope } from '../../src/envelope/envelope.js';
import { NatsTransport } from '../../src/transport/nats-transport.js';
import { check } from '../../operators/check.js';
import type { DeadLetterRecord } from '../../src/dead-letter/dead-letter-record.js';
import { route } from '../../operators/route.js';
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
          from(transport.request(`${subjects.score}.${env.data.currency}`, env.raw!, { timeoutMs: 2_000 })).pipe(map((r) => msgpackCodec.decode(r.data) as Score)),
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
});
