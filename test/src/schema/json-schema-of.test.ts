import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import * as zm from 'zod/mini';
import { jsonSchemaOf, jsonSchemasBySubject } from '../../../src/schema/json-schema-of.js';
import type { PayloadSchema } from '../../../src/schema/payload-schema.js';

describe('jsonSchemaOf', () => {
  it('converts a zod schema with its own method, input side, descriptions kept', () => {
    const schema = z.object({ id: z.string().describe('order id'), qty: z.number().int().default(1) });
    expect(jsonSchemaOf(schema)).toEqual(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }));
    expect(jsonSchemaOf(schema)).toMatchObject({ properties: { id: { type: 'string', description: 'order id' } }, required: ['id'] });
  });

  it('converts a zod/mini schema (no method) with zod’s converter, metadata included', () => {
    const schema = zm.object({ id: zm.string().register(z.globalRegistry, { description: 'order id' }) });
    expect(jsonSchemaOf(schema)).toMatchObject({ type: 'object', properties: { id: { type: 'string', description: 'order id' } }, required: ['id'] });
  });

  it('prefers the explicit schema, publishes nothing for another vendor, and never throws', () => {
    const other = { '~standard': { version: 1, vendor: 'valibot', validate: (v: unknown) => ({ value: v }) } } as PayloadSchema;
    expect(jsonSchemaOf(other, { type: 'string' })).toEqual({ type: 'string' });
    expect(jsonSchemaOf(other)).toBeUndefined();
    expect(jsonSchemaOf(undefined)).toBeUndefined();
    const broken = {
      '~standard': { version: 1, vendor: 'zod', validate: (v: unknown) => ({ value: v }) },
      toJSONSchema: () => {
        throw new Error('no');
      },
    };
    expect(jsonSchemaOf(broken as unknown as PayloadSchema)).toBeUndefined();
  });

  it('maps subjects to their schemas', () => {
    expect(jsonSchemasBySubject({ a: z.string() }, { b: { type: 'number' } })).toEqual({
      a: jsonSchemaOf(z.string()),
      b: { type: 'number' },
    });
    expect(jsonSchemasBySubject(undefined, undefined)).toBeUndefined();
  });
});
