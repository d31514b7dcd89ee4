import { describe, expect, it } from 'vitest';
import { FifoBuffer } from '../../../src/transport/fifo-buffer.js';

describe('FifoBuffer', () => {
  it('gives values back oldest first through take, shift and peek', () => {
    const b = new FifoBuffer<number>();
    expect([b.size, b.peek(), b.shift(), b.take(3)]).toEqual([0, undefined, undefined, []]);
    for (let i = 1; i <= 5; i++) b.push(i);
    expect(b.peek()).toBe(1);
    expect(b.shift()).toBe(1);
    expect(b.take(3)).toEqual([2, 3, 4]);
    b.push(6);
    expect([b.size, b.take(10), b.size]).toEqual([2, [5, 6], 0]);
  });

  it('keeps order across its compactions (thousands taken in small steps)', () => {
    const b = new FifoBuffer<number>();
    const out: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      b.push(i);
      if (i % 3 === 0) out.push(...b.take(2));
      if (i % 7 === 0 && b.size > 0) out.push(b.shift()!);
    }
    out.push(...b.take(Infinity));
    expect(out).toEqual(Array.from({ length: 20_000 }, (_, i) => i));
  });
});
