/** The parts of a JSON Schema {@link samplePayload} reads. */
export interface SampleSchema {
  readonly type?: string | readonly string[];
  readonly properties?: Readonly<Record<string, SampleSchema>>;
  readonly required?: readonly string[];
  readonly items?: SampleSchema;
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly minimum?: number;
  readonly exclusiveMinimum?: number;
  readonly minLength?: number;
  readonly minItems?: number;
}

/**
 * A small value meant to satisfy `schema` (the payload schema `sluice describe --json` prints):
 * required fields only, strings 'probe', numbers just above their minimum. It only needs to be
 * handled, not valid: a payload the topology rejects comes out as a dead letter, which the
 * start-up bench counts as handled just the same.
 */
export function samplePayload(schema: SampleSchema | undefined): unknown {
  if (schema === undefined) return { probe: true };
  if (schema.const !== undefined) return schema.const;
  if (schema.enum !== undefined && schema.enum.length > 0) return schema.enum[0];
  const type = typeof schema.type === 'string' ? schema.type : schema.type?.[0];
  switch (type) {
    case 'object':
      return Object.fromEntries((schema.required ?? []).map((k) => [k, samplePayload(schema.properties?.[k] ?? {})]));
    case 'array':
      return Array.from({ length: schema.minItems ?? 0 }, () => samplePayload(schema.items));
    case 'string':
      return 'probe'.padEnd(schema.minLength ?? 0, 'e');
    case 'integer':
    case 'number':
      return Math.max(1, Math.floor((schema.exclusiveMinimum ?? schema.minimum ?? 0) + 1));
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return { probe: true };
  }
}
