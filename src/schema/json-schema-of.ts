import { z } from 'zod';
import type { JsonSchema, PayloadSchema } from './payload-schema.js';

/**
 * The JSON Schema to publish for an edge: `explicit` when given (what a library other than zod
 * passes alongside), else what a zod 4 schema says of itself (`z.toJSONSchema`, input side: what
 * a publisher must send), else undefined (the edge is validated but its shape is not published).
 * Never throws: a schema zod cannot express is published as undefined rather than breaking
 * `describe`.
 */
export function jsonSchemaOf(schema: PayloadSchema | undefined, explicit?: JsonSchema): JsonSchema | undefined {
  if (explicit !== undefined) return explicit;
  if (schema === undefined || schema['~standard'].vendor !== 'zod') return undefined;
  try {
    return z.toJSONSchema(schema as unknown as z.ZodType, { io: 'input', unrepresentable: 'any' });
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
