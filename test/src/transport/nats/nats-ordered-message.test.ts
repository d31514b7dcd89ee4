import { headers } from '@nats-io/nats-core';
import { describe, expect, it } from 'vitest';
import { NatsOrderedMessage } from '../../../../src/transport/nats/nats-ordered-message.js';

describe('NatsOrderedMessage', () => {
  it('derives headers, id and event time lazily; the event time defaults to the stream timestamp', () => {
    const m = new NatsOrderedMessage('in.a', new Uint8Array([4]), undefined, 'IN', 4, 1_700_000_000_000);
    expect(m.headers).toEqual({});
    expect(m.id).toBe('IN:4');
    expect(m.eventTime).toBe(1_700_000_000_000);
    expect(m.timestampMs).toBe(1_700_000_000_000);
    expect(m.deliveryCount).toBe(1);
  });

  it('takes id, key and event time from the headers when they are there', () => {
    const h = headers();
    h.set('Nats-Msg-Id', 'm-7');
    h.set('Sluice-Key', 'k');
    h.set('Sluice-Event-Time', '1700000000123');
    const m = new NatsOrderedMessage('in.a', new Uint8Array(), h, 'IN', 5, 1);
    expect([m.id, m.key, m.eventTime, m.headers['Sluice-Key']]).toEqual(['m-7', 'k', 1_700_000_000_123, 'k']);
  });
});
