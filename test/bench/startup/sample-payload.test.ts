import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { samplePayload, type SampleSchema } from '../../../bench/startup/sample-payload.js';

describe('samplePayload', () => {
  it('makes a value that the zod schema behind a described input accepts', () => {
    const Order = z.object({
      orderId: z.string().min(1),
      sku: z.string().min(8),
      quantity: z.number().int().positive(),
      totalCents: z.number().int().nonnegative(),
      kind: z.enum(['web', 'shop']),
      lines: z.array(z.object({ n: z.number() })).min(1),
      note: z.string().optional(),
    });
    const schema = z.toJSONSchema(Order, { io: 'input' }) as SampleSchema;
    const value = samplePayload(schema);
    expect(Order.safeParse(value).success, JSON.stringify(value)).toBe(true);
    expect(value).not.toHaveProperty('note');
  });

  it('sends a plain object when the input has no schema', () => {
    expect(samplePayload(undefined)).toEqual({ probe: true });
  });
});
