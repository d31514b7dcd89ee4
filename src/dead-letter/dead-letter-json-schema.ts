/** A JSON Schema document (the same shape as src/schema's JsonSchema; this layer may not import that one). */
type JsonSchema = { readonly [key: string]: unknown };

// The JSON Schemas that `describe` publishes for dead letters and replay markers, written out from
// dead-letter-payload-schema.ts (the zod definition, which stays the source) so that building a
// topology contract never loads zod (~95 modules, ~12 MiB: issue 14, start-up). A test checks that
// these equal what zod derives from that definition; after changing it, copy the new output here.

const DEAD_LETTER: JsonSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  properties: {
    v: { type: 'number', const: 1, description: 'record version' },
    operator: { type: 'string', description: 'who gave up, `<kind>:<name>` (e.g. `source:shop.orders.*`, `actor:stock`)' },
    subject: { type: 'string', description: 'the subject the message arrived on' },
    id: { type: 'string', description: "the message's stable id: its Nats-Msg-Id, else `<stream>:<seq>`, else a generated one" },
    stream: { description: 'JetStream stream it was read from', type: 'string' },
    seq: { description: 'its sequence in that stream', type: 'integer', minimum: 0, maximum: 9007199254740991 },
    key: { description: 'actor/partition key, when one was assigned', type: 'string' },
    headers: { type: 'object', propertyNames: { type: 'string' }, additionalProperties: { type: 'string' }, description: 'its headers as received' },
    payload: { 'x-msgpack': 'bin', description: 'the message bytes (see payloadSource)' },
    payloadSource: {
      type: 'string',
      enum: ['raw', 'data', 'none'],
      description: 'raw: the bytes as they arrived; data: the decoded value re-encoded; none: empty',
    },
    error: {
      type: 'object',
      properties: { name: { type: 'string' }, message: { type: 'string' } },
      required: ['name', 'message'],
      additionalProperties: {},
      description: 'the failure: error class name and reason (field paths for a PayloadSchemaError)',
    },
    payloadTruncated: {
      description: 'the record would not fit max_payload: payload is the first part, the original stays at stream/seq',
      type: 'boolean',
      const: true,
    },
    payloadBytes: { description: 'with payloadTruncated: the original size', type: 'integer', minimum: 0, maximum: 9007199254740991 },
    replayOf: { description: 'the failing message was a replay of this record (`<dead-letter stream>/<seq>`): the record is parked', type: 'string' },
    replayAttempt: { description: 'with replayOf: which replay failed', type: 'integer', exclusiveMinimum: 0, maximum: 9007199254740991 },
    attempts: { type: 'integer', minimum: 0, maximum: 9007199254740991, description: 'how many times it was tried (0: never handled)' },
    failedAt: { type: 'integer', minimum: -9007199254740991, maximum: 9007199254740991, description: 'when Sluice gave up, epoch milliseconds (an integer)' },
  },
  required: ['v', 'operator', 'subject', 'id', 'headers', 'payload', 'payloadSource', 'error', 'attempts', 'failedAt'],
  additionalProperties: {},
};

const REPLAY_MARKER: JsonSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  properties: {
    v: { type: 'number', const: 1 },
    replayed: { type: 'integer', exclusiveMinimum: 0, maximum: 9007199254740991, description: 'sequence of the dead-letter record replayed' },
    attempt: { type: 'integer', exclusiveMinimum: 0, maximum: 9007199254740991 },
    to: {
      description: 'where the replayed message was stored',
      type: 'object',
      properties: {
        stream: { type: 'string' },
        seq: { type: 'integer', minimum: -9007199254740991, maximum: 9007199254740991 },
        duplicate: { type: 'boolean' },
      },
      required: ['stream', 'seq', 'duplicate'],
      additionalProperties: {},
    },
    at: { type: 'integer', minimum: -9007199254740991, maximum: 9007199254740991, description: 'epoch milliseconds' },
  },
  required: ['v', 'replayed', 'attempt', 'at'],
  additionalProperties: {},
};

/** The JSON Schema of a dead letter's payload (`DeadLetterRecord`, version 1): a fresh copy per call. */
export function deadLetterJsonSchema(): JsonSchema {
  return structuredClone(DEAD_LETTER);
}

/** The JSON Schema of a replay marker's payload: a fresh copy per call. */
export function replayMarkerJsonSchema(): JsonSchema {
  return structuredClone(REPLAY_MARKER);
}
