import { map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { withLazyJsonSchemas } from '../../../src/observe/lazy-json-schemas.js';
import { defineTopology } from '../../../src/runtime/define-topology.js';
import { describeTopology } from '../../../src/runtime/describe-topology.js';
import { contractOf } from '../../../src/runtime/topology-contract.js';

/** A zod schema whose conversions to JSON Schema are counted. */
function counted<T extends z.ZodType>(schema: T): { schema: T; conversions: () => number } {
  let n = 0;
  const own = schema.toJSONSchema.bind(schema);
  Object.defineProperty(schema, 'toJSONSchema', { value: (...args: Parameters<T['toJSONSchema']>) => (n++, own(...args)) });
  return { schema, conversions: () => n };
}

describe('withLazyJsonSchemas', () => {
  it('computes a property on first read, once; undefined reads as undefined; JSON has the value', () => {
    let calls = 0;
    const node = withLazyJsonSchemas({ kind: 'source', subject: 'a' }, { payload: () => (calls++, { type: 'string' }), replyPayload: () => undefined });
    expect(calls).toBe(0);
    expect(node.payload).toEqual({ type: 'string' });
    expect(node.payload).toBe(node.payload);
    expect(calls).toBe(1);
    expect(node.replyPayload).toBeUndefined();
    expect(JSON.parse(JSON.stringify(node))).toEqual({ kind: 'source', subject: 'a', payload: { type: 'string' } });
  });

  it('a topology is built without converting its schemas; the contract converts each once', () => {
    const input = counted(z.object({ sku: z.string() }));
    const output = counted(z.object({ sku: z.string(), n: z.number() }));
    const reply = counted(z.object({ ok: z.boolean() }));
    const topology = defineTopology('lazy-schemas', (t) => {
      t.respond('lazy.ask', () => ({ ok: true }), { replySchema: reply.schema, deadlineMs: 100, fallback: () => ({ ok: false }) });
      return t.source<{ sku: string }>('lazy.in', { schema: input.schema }).pipe(
        map((e) => ({ sku: e.data.sku, n: 1 })),
        t.sink('lazy.out', { schema: output.schema }),
      );
    });
    const description = describeTopology(topology);
    expect([input.conversions(), output.conversions(), reply.conversions()]).toEqual([0, 0, 0]);
    const contract = contractOf(topology.name, description.nodes);
    expect(contract.subjects.find((s) => s.subject === 'lazy.in')?.payload).toMatchObject({ properties: { sku: { type: 'string' } } });
    expect(contract.subjects.find((s) => s.subject === 'lazy.out')?.payload).toMatchObject({ required: ['sku', 'n'] });
    contractOf(topology.name, description.nodes);
    expect([input.conversions(), output.conversions(), reply.conversions()]).toEqual([1, 1, 1]);
  });
});
