import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Fifo } from '../../../operators/internal/fifo.js';

describe('Fifo', () => {
  it('behaves like an array queue for any push/shift sequence', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.nat(), fc.constant(-1)), { maxLength: 500 }), (ops) => {
        const fifo = new Fifo<number>();
        const model: number[] = [];
        for (const op of ops) {
          if (op === -1) expect(fifo.shift()).toBe(model.shift());
          else {
            fifo.push(op);
            model.push(op);
          }
          expect(fifo.length).toBe(model.length);
        }
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 100) },
    );
  });
});
