import type { ContractHeader, ContractSubject, TopologyContract } from './topology-contract.js';

/** An AsyncAPI 3.0 document, as plain JSON. */
export type AsyncApiDocument = { readonly asyncapi: '3.0.0' } & Record<string, unknown>;

// Payload schemas are what zod (or the topology) gives: JSON Schema draft 2020-12.
const SCHEMA_FORMAT = 'application/schema+json;version=draft-2020-12';

/**
 * The contract as an AsyncAPI 3.0 document for integration teams: one channel per subject (its
 * `address` is the NATS subject, wildcards as they are), one operation per channel — `receive`
 * for what the topology reads or answers, `send` for what it publishes — and one message per
 * channel with its payload schema and headers. Sluice's own fields ride along as `x-sluice-*`
 * (direction, stream, guarantee). Internal subjects are left out: they are not an interface.
 */
export function contractToAsyncApi(contract: TopologyContract): AsyncApiDocument {
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  const used = new Set<string>();
  for (const s of contract.subjects) {
    if (s.direction === 'internal') continue;
    const id = uniqueId(`${s.direction}-${s.subject}`, used);
    messages[id] = {
      name: id,
      contentType: s.contentType,
      ...(s.payload !== undefined ? { payload: { schemaFormat: SCHEMA_FORMAT, schema: s.payload } } : {}),
      ...(s.headers.some((h) => h.name !== '*') ? { headers: headersSchema(s.headers) } : {}),
    };
    channels[id] = {
      address: s.subject,
      ...(s.description !== undefined ? { description: s.description } : {}),
      messages: { [id]: { $ref: `#/components/messages/${id}` } },
      'x-sluice-direction': s.direction,
      'x-sluice-transport': s.transport,
      ...(s.stream !== undefined ? { 'x-sluice-stream': s.stream } : {}),
      ...(s.consumer !== undefined ? { 'x-sluice-consumer': s.consumer } : {}),
    };
    operations[id] = {
      action: s.direction === 'in' || s.direction === 'request' ? 'receive' : 'send',
      channel: { $ref: `#/channels/${id}` },
      messages: [{ $ref: `#/channels/${id}/messages/${id}` }],
      summary: summaryOf(s),
      ...(s.guarantee !== undefined ? { 'x-sluice-guarantee': s.guarantee, 'x-sluice-because': s.because } : {}),
    };
  }
  return {
    asyncapi: '3.0.0',
    info: {
      title: `Sluice topology ${contract.name}`,
      version: contract.format,
      description: `What topology '${contract.name}' reads and publishes over NATS. Payloads are ${contract.contentTypes.join(' or ')} (by the Content-Type header; none means MessagePack); timestamps are integer epoch milliseconds.`,
    },
    defaultContentType: contract.contentTypes[0],
    channels,
    operations,
    components: { messages },
  };
}

function headersSchema(headers: readonly ContractHeader[]): Record<string, unknown> {
  const named = headers.filter((h) => h.name !== '*');
  return {
    type: 'object',
    properties: Object.fromEntries(named.map((h) => [h.name, { type: 'string', description: h.description }])),
    required: named.filter((h) => h.presence === 'always').map((h) => h.name),
  };
}

function summaryOf(s: ContractSubject): string {
  const verb = { in: 'reads', out: 'publishes', 'dead-letter': 'dead-letters to', request: 'answers requests on', reply: 'replies on', internal: 'uses' }[
    s.direction
  ];
  return `${s.part} ${verb} ${s.subject}${s.stream !== undefined ? ` (stream ${s.stream})` : ''}`;
}

/** A component id from a subject: letters, digits, `-`, `_`, `.` only, unique in the document. */
function uniqueId(raw: string, used: Set<string>): string {
  const base = raw
    .replace(/\*/g, 'star')
    .replace(/>/g, 'all')
    .replace(/[^A-Za-z0-9_.-]+/g, '_');
  let id = base;
  for (let n = 2; used.has(id); n++) id = `${base}_${n}`;
  used.add(id);
  return id;
}
