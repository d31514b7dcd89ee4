import { createRequire } from 'node:module';
import type { JsonSchema, PayloadSchema } from './payload-schema.js';

/** zod 4's conversion: a schema of the full `zod` build carries it as a method; `zod/mini` schemas do not. */
type ZodToJsonSchema = (params: { io: 'input'; unrepresentable: 'any' }) => JsonSchema;
type ZodModule = { toJSONSchema(schema: unknown, params: { io: 'input'; unrepresentable: 'any' }): JsonSchema };

/**
 * The JSON Schema to publish for an edge: `explicit` when given (what a library other than zod
 * passes alongside), else what a zod 4 schema says of itself (`toJSONSchema`, input side: what
 * a publisher must send), else undefined (the edge is validated but its shape is not published).
 * Never throws: a schema zod cannot express is published as undefined rather than breaking
 * `describe`.
 *
 * zod is not imported here: that would load its ~95 modules into every start (issue 14). A zod
 * schema converts itself with the user's own copy of zod; only a `zod/mini` schema, which has no
 * such method, makes this require zod's converter (its metadata registry is shared through
 * `globalThis`, so descriptions still come out).
 */
export function jsonSchemaOf(schema: PayloadSchema | undefined, explicit?: JsonSchema): JsonSchema | undefined {
  if (explicit !== undefined) return explicit;
  if (schema === undefined || schema['~standard'].vendor !== 'zod') return undefined;
  const params = { io: 'input', unrepresentable: 'any' } as const;
  try {
    const own = (schema as { toJSONSchema?: ZodToJsonSchema }).toJSONSchema;
    if (typeof own === 'function') return own.call(schema, params);
    return (createRequire(import.meta.url)('zod') as ZodModule).toJSONSchema(schema, params);
  } catch {
    return undefined;
  }
}

/** {@link jsonSchemaOf} for each subject of a part whose subjects carry different shapes. */
export function jsonSchemasBySubject(
  schemas: Readonly<Record<string, PayloadSchema>> | undefined,
  explicit: Readonly<Record<string, JsonSchema>> | undefined,
): Record<string, JsonSchema | undefined> | undefined {
  const subjects = new Set([...Object.keys(schemas ?? {}), ...Object.keys(explicit ?? {})]);
  if (subjects.size === 0) return undefined;
  const out: Record<string, JsonSchema | undefined> = {};
  for (const s of subjects) out[s] = jsonSchemaOf(schemas?.[s], explicit?.[s]);
  return out;
}
