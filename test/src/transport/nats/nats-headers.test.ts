import { headers } from '@nats-io/nats-core';
import { describe, expect, it } from 'vitest';
import { fromNatsHeaders, toNatsHeaders } from '../../../../src/transport/nats/nats-headers.js';

describe('NATS headers ↔ Envelope.headers', () => {
  it('keeps the first value of each name, and any name as a plain property: __proto__ and constructor too', () => {
    const h = headers();
    h.append('Sluice-Key', 'k1');
    h.append('Sluice-Key', 'k2');
    h.set('__proto__', 'not a prototype');
    h.set('constructor', 'nor a constructor');
    const out = fromNatsHeaders(h);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out).sort()).toEqual(['Sluice-Key', '__proto__', 'constructor']);
    expect(out['Sluice-Key']).toBe('k1');
    expect(Object.getOwnPropertyDescriptor(out, '__proto__')?.value).toBe('not a prototype');
    expect(out['constructor']).toBe('nor a constructor');
    // And back: every name goes out again.
    const back = toNatsHeaders(out)!;
    expect(back.get('__proto__')).toBe('not a prototype');
    expect(back.get('constructor')).toBe('nor a constructor');
  });
});
