import { describe, expect, it } from 'vitest';
import { makeEnvelope } from '../../../src/envelope/make-envelope.js';

describe('makeEnvelope', () => {
  it('takes the id from Nats-Msg-Id, else the stream position, else a fresh unique id', () => {
    expect(makeEnvelope({ subject: 'a', data: 1, headers: { 'Nats-Msg-Id': 'm-1' }, stream: 'S', seq: 3 }).id).toBe('m-1');
    expect(makeEnvelope({ subject: 'a', data: 1, stream: 'S', seq: 3 }).id).toBe('S:3');
    const a = makeEnvelope({ subject: 'a', data: 1 }).id;
    const b = makeEnvelope({ subject: 'a', data: 1 }).id;
    expect(a).not.toBe(b);
  });

  it('takes event time from the header, else the clock', () => {
    expect(makeEnvelope({ subject: 'a', data: 1, headers: { 'Sluice-Event-Time': '1700' } }).eventTime).toBe(1700);
    expect(makeEnvelope({ subject: 'a', data: 1, headers: { 'Sluice-Event-Time': 'soon' }, now: () => 5 }).eventTime).toBe(5);
    expect(makeEnvelope({ subject: 'a', data: 1, eventTime: 9, headers: { 'Sluice-Event-Time': '1700' } }).eventTime).toBe(9);
  });

  it('takes the key from the Sluice-Key header unless given', () => {
    expect(makeEnvelope({ subject: 'a', data: 1, headers: { 'Sluice-Key': 'sku-1' } }).key).toBe('sku-1');
    expect(makeEnvelope({ subject: 'a', data: 1, key: 'k', headers: { 'Sluice-Key': 'sku-1' } }).key).toBe('k');
  });
});
