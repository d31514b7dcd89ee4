import { headers as natsHeaders, type Msg } from '@nats-io/nats-core';
import { MsgImpl } from '@nats-io/nats-core/internal';
import { describe, expect, it } from 'vitest';
import { HEADERS } from '../../../../src/envelope/envelope.js';
import { natsCoreEnvelope } from '../../../../src/transport/nats/nats-core-envelope.js';

const te = new TextEncoder();

/** A message as the v3 client's parser hands it over (`MsgImpl` over the wire fields). */
function wireMsg(subject: string, payload: Uint8Array, options: { reply?: string; headers?: ReturnType<typeof natsHeaders> } = {}): Msg {
  // MsgHdrsImpl.encode: the wire form of the headers (not in the MsgHdrs interface).
  const hdr = (options.headers as { encode(): Uint8Array } | undefined)?.encode();
  const data = hdr === undefined ? payload : new Uint8Array([...hdr, ...payload]);
  const arg = {
    subject: te.encode(subject),
    reply: options.reply === undefined ? undefined : te.encode(options.reply),
    sid: 1,
    hdr: hdr?.length ?? -1,
    size: data.length,
  };
  return new MsgImpl(arg, data, { publish: () => undefined });
}

describe('natsCoreEnvelope', () => {
  it('a plain message: its bytes, no headers, no reply, a fresh id and the time received', () => {
    const before = Date.now();
    const a = natsCoreEnvelope(wireMsg('orders.created', new Uint8Array([1, 2, 3])));
    const b = natsCoreEnvelope(wireMsg('orders.created', new Uint8Array([4])));
    expect(a).toMatchObject({ subject: 'orders.created', data: new Uint8Array([1, 2, 3]), headers: {}, reply: undefined, stream: undefined, seq: undefined });
    expect(a.id).not.toBe(b.id);
    expect(a.eventTime).toBeGreaterThanOrEqual(before);
    expect(a.eventTime).toBeLessThanOrEqual(Date.now());
  });

  it('takes the subscription subject when given (a subscription without wildcards), else the wire one', () => {
    expect(natsCoreEnvelope(wireMsg('orders.created', new Uint8Array()), 'orders.created').subject).toBe('orders.created');
    expect(natsCoreEnvelope(wireMsg('orders.eu', new Uint8Array())).subject).toBe('orders.eu');
  });

  it('keeps a reply subject, with and without headers', () => {
    expect(natsCoreEnvelope(wireMsg('svc.check', new Uint8Array(), { reply: '_INBOX.abc.1' })).reply).toBe('_INBOX.abc.1');
    const h = natsHeaders();
    h.set('x', '1');
    expect(natsCoreEnvelope(wireMsg('svc.check', new Uint8Array(), { reply: '_INBOX.abc.2', headers: h })).reply).toBe('_INBOX.abc.2');
  });

  it('with headers: id, event time and key from them, as makeEnvelope fills them', () => {
    const h = natsHeaders();
    h.set(HEADERS.msgId, 'order-42');
    h.set(HEADERS.eventTime, '1700000000000');
    h.set(HEADERS.key, 'c-7');
    const env = natsCoreEnvelope(wireMsg('orders.created', new Uint8Array([9]), { headers: h }));
    expect(env).toMatchObject({ id: 'order-42', eventTime: 1_700_000_000_000, key: 'c-7', data: new Uint8Array([9]), reply: undefined });
    expect(env.headers[HEADERS.msgId]).toBe('order-42');
  });
});
