/**
 * The Standard Schema interface (https://standardschema.dev, v1), copied as its authors advise
 * rather than imported: zod 4, valibot, ArkType and TypeBox (with its adapter) implement it, so a
 * topology may validate its edges with any of them.
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

/** What a Standard Schema's `validate` returns. */
export type StandardResult<Output> = { readonly value: Output; readonly issues?: undefined } | { readonly issues: readonly StandardIssue[] };

/** One validation issue: a message and where in the value it applies. */
export interface StandardIssue {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
}

/** A JSON Schema (draft 2020-12) document, as plain JSON. */
export type JsonSchema = { readonly [key: string]: unknown };

/**
 * The payload contract of one edge of a topology (a source, a stream, a sink, an actor's
 * outputs): a Standard Schema validates, and its JSON Schema is published by `describe`.
 *
 * zod 4 schemas give their JSON Schema themselves (`z.toJSONSchema`). With another library, pass
 * the JSON Schema alongside as `jsonSchema` (e.g. valibot's `toJsonSchema(schema)`, or a
 * TypeBox schema, which is one).
 */
export type PayloadSchema = StandardSchemaV1;

/** Whether a value implements Standard Schema v1. */
export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false;
  const std = (value as { '~standard'?: { version?: unknown; validate?: unknown } })['~standard'];
  return typeof std === 'object' && std !== null && std.version === 1 && typeof std.validate === 'function';
}
