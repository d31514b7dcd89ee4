import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { checkPayload, formatIssuePath, validateSchemaOption } from '../../../src/schema/check-payload.js';
import { jsonSchemaOf, jsonSchemasBySubject } from '../../../src/schema/json-schema-of.js';
import type { StandardSchemaV1 } from '../../../src/schema/payload-schema.js';
import { PayloadSchemaError } from '../../../src/schema/payload-schema-error.js';
import { InvalidConfigError, TerminalError } from '../../../src/errors.js';

const Order = z.object({ orderId: z.string(), items: z.array(z.object({ sku: z.string(), qty: z.number().int() })), placedAt: z.number().int() });
const origin = { subject: 'shop.orders.web', stream: 'ORDERS', seq: 7 };

/** A Standard Schema written by hand, as another library would provide one. */
const positive: StandardSchemaV1<number> = {
  '~standard': {
    version: 1,
    vendor: 'hand-made',
    validate: (v) => (typeof v === 'number' && v > 0 ? { value: v } : { issues: [{ message: 'must be a positive number', path: [{ key: 'n' }] }] }),
  },
};

describe('checkPayload', () => {
  it('returns the value when it matches', () => {
    const order = { orderId: 'o1', items: [{ sku: 'A', qty: 1 }], placedAt: 1_764_201_600_000 };
    expect(checkPayload(Order, order, origin)).toEqual(order);
  });

  it('names the subject, the stream position and each failing field path', () => {
    const bad = {
      orderId: 'o1',
      items: [
        { sku: 'A', qty: 1 },
        { sku: 'B', qty: 1 },
        { sku: 3, qty: 1.5 },
      ],
      placedAt: 1,
    };
    let error: unknown;
    try {
      checkPayload(Order, bad, origin);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PayloadSchemaError);
    expect(error).toBeInstanceOf(TerminalError); // not retried: the same bytes never become valid
    const e = error as PayloadSchemaError;
    expect(e.name).toBe('PayloadSchemaError');
    expect(e.message).toBe(
      "payload on subject 'shop.orders.web' (stream ORDERS, seq 7) does not match its schema: items[2].sku: expected string, received number; items[2].qty: expected int, received number",
    );
    expect(e.issues).toHaveLength(2);
  });

  it('accepts any Standard Schema, not only zod', () => {
    expect(checkPayload(positive, 3, { subject: 's' })).toBe(3);
    expect(() => checkPayload(positive, -1, { subject: 's' })).toThrow("payload on subject 's' does not match its schema: n: must be a positive number");
  });

  it('refuses an asynchronous schema with a reason instead of letting the message through', () => {
    const slow = z.string().refine(async () => true);
    expect(() => checkPayload(slow, 'x', { subject: 's' })).toThrow(/asynchronous/);
  });

  it('keeps a long list of issues readable', () => {
    const many = z.object(Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`f${i}`, z.string()])));
    const e = (() => {
      try {
        checkPayload(many, {}, { subject: 's' });
      } catch (err) {
        return err as PayloadSchemaError;
      }
    })()!;
    expect(e.issues).toHaveLength(6);
    expect(e.issues.at(-1)).toBe('... 3 more');
  });
});

describe('formatIssuePath', () => {
  it('writes paths as JavaScript would', () => {
    expect(formatIssuePath(undefined)).toBe('(root)');
    expect(formatIssuePath([])).toBe('(root)');
    expect(formatIssuePath(['items', 2, 'sku'])).toBe('items[2].sku');
    expect(formatIssuePath([{ key: 'a b' }, 0])).toBe('["a b"][0]');
  });
});

describe('validateSchemaOption', () => {
  it('refuses what is not a Standard Schema when the edge is created', () => {
    expect(() => validateSchemaOption({ parse: () => 1 }, "source 'x'")).toThrow(InvalidConfigError);
    expect(() => validateSchemaOption({ parse: () => 1 }, "source 'x'")).toThrow("source 'x': 'schema' must be a Standard Schema");
    expect(() => validateSchemaOption(undefined, 'x')).not.toThrow();
    expect(() => validateSchemaOption(positive, 'x')).not.toThrow();
  });
});

describe('jsonSchemaOf', () => {
  it("publishes zod's own JSON Schema, integers as integers", () => {
    const schema = jsonSchemaOf(Order)!;
    expect(schema).toMatchObject({ type: 'object', required: ['orderId', 'items', 'placedAt'] });
    expect((schema.properties as Record<string, { type: string }>)['placedAt']!.type).toBe('integer');
  });

  it('takes the JSON Schema given alongside a schema of another library, and has none otherwise', () => {
    expect(jsonSchemaOf(positive)).toBeUndefined();
    expect(jsonSchemaOf(positive, { type: 'number', exclusiveMinimum: 0 })).toEqual({ type: 'number', exclusiveMinimum: 0 });
    expect(jsonSchemasBySubject({ a: positive, b: z.string() }, { a: { type: 'number' } })).toEqual({
      a: { type: 'number' },
      b: expect.objectContaining({ type: 'string' }),
    });
  });
});
