import { InvalidConfigError, type MessageOrigin } from '../errors.js';
import { isStandardSchema, type PayloadSchema, type StandardIssue } from './payload-schema.js';
import { PayloadSchemaError } from './payload-schema-error.js';

// A reason must stay readable in a log line and a dead-letter header: the first few issues say enough.
const MAX_ISSUES = 5;

/**
 * Validates `value` against a Standard Schema and returns the schema's output (zod's parsed
 * value: defaults filled in, unknown keys stripped unless the schema keeps them).
 *
 * Synchronous only: an edge validates inside the message's settlement, before anything else
 * sees it, so a schema whose `validate` returns a Promise (an async refinement) is refused.
 *
 * @throws PayloadSchemaError naming `origin` (subject, stream, seq) and each failing field path
 * (`items[2].sku: expected string`); also for an asynchronous schema.
 */
export function checkPayload<T = unknown>(schema: PayloadSchema, value: unknown, origin: MessageOrigin): T {
  const result = schema['~standard'].validate(value);
  if (result instanceof Promise) {
    // Nobody will look at it: keep an async rejection from becoming an unhandled one.
    result.catch(() => undefined);
    throw new PayloadSchemaError(origin, ['(root): the schema is asynchronous; edge schemas must validate synchronously']);
  }
  if (result.issues === undefined) return result.value as T;
  const issues = result.issues.slice(0, MAX_ISSUES).map(formatIssue);
  if (result.issues.length > MAX_ISSUES) issues.push(`... ${result.issues.length - MAX_ISSUES} more`);
  throw new PayloadSchemaError(origin, issues);
}

/** `items[2].sku: expected string, received number` (zod's "Invalid input: " prefix dropped: the reason says so already). */
export function formatIssue(issue: StandardIssue): string {
  return `${formatIssuePath(issue.path)}: ${issue.message.replace(/^Invalid input: /, '')}`;
}

/** A JavaScript-like path: `items[2].sku`, `["a key"]`, `(root)` for the value itself. */
export function formatIssuePath(path: StandardIssue['path']): string {
  if (path === undefined || path.length === 0) return '(root)';
  let out = '';
  for (const segment of path) {
    const key = typeof segment === 'object' && segment !== null ? segment.key : segment;
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$]*$/.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

/**
 * Checks an edge's `schema` option when the edge is created.
 * @throws InvalidConfigError unless it is absent or a Standard Schema.
 */
export function validateSchemaOption(schema: unknown, component: string): void {
  if (schema !== undefined && !isStandardSchema(schema)) {
    throw new InvalidConfigError(component, 'schema', 'must be a Standard Schema (zod 4, valibot, ArkType...): it has no `~standard.validate`');
  }
}
