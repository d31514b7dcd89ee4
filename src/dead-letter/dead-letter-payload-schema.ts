import { z } from 'zod';

/**
 * The payload of a dead letter (`DeadLetterRecord`, version 1; docs/dead-letters.md) as a schema, so `describe`
 * publishes it like any other payload. It mirrors `dead-letter-record.ts`; the
 * conformance test decodes real dead letters with another language and validates them against
 * this, so a change to the record that is not made here fails CI. Loose: a field added in a later
 * minor change does not break consumers.
 *
 * `payload` is MessagePack bin, which JSON Schema has no type for: it carries the custom keyword
 * `"x-msgpack": "bin"` (see docs/describe.md).
 */
export const deadLetterPayloadSchema = z.looseObject({
  v: z.literal(1).describe('record version'),
  operator: z.string().describe('who gave up, `<kind>:<name>` (e.g. `source:shop.orders.*`, `actor:stock`)'),
  subject: z.string().describe('the subject the message arrived on'),
  id: z.string().describe("the message's stable id: its Nats-Msg-Id, else `<stream>:<seq>`, else a generated one"),
  stream: z.string().optional().describe('JetStream stream it was read from'),
  seq: z.number().int().nonnegative().optional().describe('its sequence in that stream'),
  key: z.string().optional().describe('actor/partition key, when one was assigned'),
  headers: z.record(z.string(), z.string()).describe('its headers as received'),
  payload: z
    .custom<Uint8Array>((v) => v instanceof Uint8Array, { message: 'expected MessagePack bin (bytes)' })
    .meta({ 'x-msgpack': 'bin', description: 'the message bytes (see payloadSource)' }),
  payloadSource: z.enum(['raw', 'data', 'none']).describe('raw: the bytes as they arrived; data: the decoded value re-encoded; none: empty'),
  error: z.looseObject({ name: z.string(), message: z.string() }).describe('the failure: error class name and reason (field paths for a PayloadSchemaError)'),
  payloadTruncated: z.literal(true).optional().describe('the record would not fit max_payload: payload is the first part, the original stays at stream/seq'),
  payloadBytes: z.number().int().nonnegative().optional().describe('with payloadTruncated: the original size'),
  replayOf: z.string().optional().describe('the failing message was a replay of this record (`<dead-letter stream>/<seq>`): the record is parked'),
  replayAttempt: z.number().int().positive().optional().describe('with replayOf: which replay failed'),
  attempts: z.number().int().nonnegative().describe('how many times it was tried (0: never handled)'),
  failedAt: z.number().int().describe('when Sluice gave up, epoch milliseconds (an integer)'),
});

/** The payload of a replay marker on `sluice.dlq.<topology>.$replayed` (docs/dead-letters.md). */
export const replayMarkerPayloadSchema = z.looseObject({
  v: z.literal(1),
  replayed: z.number().int().positive().describe('sequence of the dead-letter record replayed'),
  attempt: z.number().int().positive(),
  to: z.looseObject({ stream: z.string(), seq: z.number().int(), duplicate: z.boolean() }).optional().describe('where the replayed message was stored'),
  at: z.number().int().describe('epoch milliseconds'),
});
