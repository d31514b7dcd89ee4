import { AckPolicy, jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEnvelope } from '../../../../src/envelope/make-envelope.js';
import { fromNatsHeaders } from '../../../../src/transport/nats/nats-headers.js';
import { deliveryOf, NatsStreamMessage } from '../../../../src/transport/nats/nats-stream-message.js';
import { uniqueName, useNatsServer } from '../../../helpers/nats-server.js';

const server = useNatsServer();
let nc: NatsConnection;
beforeAll(async () => {
  nc = await connect({ servers: server().url, noAsyncTraces: true });
});
afterAll(async () => {
  await nc?.drain();
});

/** A stream with the given messages and a durable consumer on it; returns a way to fetch the next delivery. */
async function streamWith(messages: { data: Uint8Array; headers?: Record<string, string> }[]) {
  const stream = uniqueName('NSM');
  const subject = `${stream.toLowerCase()}.in`;
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: stream, subjects: [subject] });
  const js = jetstream(nc);
  for (const m of messages) {
    const h = natsHeaders();
    for (const [k, v] of Object.entries(m.headers ?? {})) h.set(k, v);
    await js.publish(subject, m.data, m.headers !== undefined ? { headers: h } : {});
  }
  await jsm.consumers.add(stream, { durable_name: 'reader', ack_policy: AckPolicy.Explicit, ack_wait: 30_000_000_000 });
  const consumer = await js.consumers.get(stream, 'reader');
  return {
    stream,
    next: async (): Promise<JsMsg> => (await consumer.next({ expires: 5000 }))!,
    /** Acks travel without a reply: wait until the consumer has seen them. */
    pendingBecomes: async (n: number): Promise<number> => {
      let pending = -1;
      for (let i = 0; i < 100 && pending !== n; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 20));
        pending = (await jsm.consumers.info(stream, 'reader')).num_ack_pending;
      }
      return pending;
    },
  };
}

describe('deliveryOf', () => {
  it('reads what JsMsg.info says, on first delivery and on redelivery', async () => {
    // One message only: a nak travels without a reply, so with a second message waiting the next pull
    // could get that one before the server has seen the nak.
    const s = await streamWith([{ data: new Uint8Array([1]) }]);
    const first = await s.next();
    expect(deliveryOf(first)).toEqual({ stream: s.stream, streamSequence: first.info.streamSequence, deliveryCount: first.info.deliveryCount });
    expect(deliveryOf(first)).toEqual({ stream: s.stream, streamSequence: 1, deliveryCount: 1 });
    first.nak();
    const again = await s.next();
    expect(deliveryOf(again)).toEqual({ stream: s.stream, streamSequence: again.info.streamSequence, deliveryCount: again.info.deliveryCount });
    expect(deliveryOf(again).deliveryCount).toBe(2);
  });
});

describe('NatsStreamMessage', () => {
  it('has the envelope fields makeEnvelope would give it, with and without Sluice headers', async () => {
    const headers = { 'Nats-Msg-Id': 'order-42', 'Sluice-Event-Time': '1700000000000', 'Sluice-Key': 'sku-1', 'X-Trace': 't' };
    const s = await streamWith([{ data: new Uint8Array([1]), headers }, { data: new Uint8Array([2]) }]);
    for (let i = 0; i < 2; i++) {
      const m = await s.next();
      const info = deliveryOf(m);
      const before = Date.now();
      const msg = new NatsStreamMessage(m, info.stream, info.streamSequence, info.deliveryCount, true);
      const expected = makeEnvelope({
        subject: m.subject,
        data: m.data,
        headers: fromNatsHeaders(m.headers),
        stream: info.stream,
        seq: info.streamSequence,
        now: () => msg.eventTime,
      });
      expect({ ...msg }).toEqual({ ...expected, deliveryCount: 1 });
      if (i === 0) expect(msg).toMatchObject({ id: 'order-42', key: 'sku-1', eventTime: 1700000000000 });
      else {
        expect(msg.id).toBe(`${s.stream}:2`);
        expect(msg.eventTime).toBeGreaterThanOrEqual(before);
      }
      msg.ack();
    }
    expect(await s.pendingBecomes(0)).toBe(0);
  });

  it('acks, naks and keeps alive through the JetStream message; an ordered one does nothing', async () => {
    const s = await streamWith([{ data: new Uint8Array([1]) }]);
    const m = await s.next();
    const ordered = new NatsStreamMessage(m, s.stream, 1, 1, false);
    ordered.ack();
    ordered.nak();
    ordered.term();
    ordered.working();
    // Had any of those reached the JsMsg, its first-call-counts rule would drop this nak.
    const msg = new NatsStreamMessage(m, s.stream, 1, 1, true);
    msg.working();
    msg.nak(0);
    const again = await s.next();
    expect(again.info.deliveryCount).toBe(2);
    new NatsStreamMessage(again, s.stream, 1, 2, true).ack();
    expect(await s.pendingBecomes(0)).toBe(0);
  });
});
