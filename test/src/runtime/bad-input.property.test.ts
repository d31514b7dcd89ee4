import fc from 'fast-check';
import { pino } from 'pino';
import { map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { jsonCodec } from '../../../src/codec/json-codec.js';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import { deadLetterStreamName } from '../../../src/dead-letter/dead-letter-subject.js';
import type { DeadLetterRecord } from '../../../src/dead-letter/dead-letter-record.js';
import { DEAD_LETTER_HEADERS, decodeDeadLetter } from '../../../src/dead-letter/encode-dead-letter.js';
import type { Envelope } from '../../../src/envelope/envelope.js';
import { defineTopology } from '../../../src/runtime/define-topology.js';
import { runTopology, type TopologyExit } from '../../../src/runtime/run-topology.js';
import type { StreamMessage } from '../../../src/transport/transport.js';
import { uniqueName, useNatsServer } from '../../helpers/nats-server.js';
import { readStream } from '../../helpers/read-stream.js';
import { useTransport } from '../../helpers/transports.js';
import { until } from '../../helpers/until.js';

/*
 * README: "Bad input — any size, any shape, any key length … gets a clear error naming subject,
 * sequence and reason, and goes to the dead letters with the original bytes (or a reference when
 * too big). It never stops a topology and is never silently dropped."
 *
 * A property over a real nats-server (max_payload 1 MiB, its default) and `runTopology`: a
 * `t.stream` with a zod schema → a `map` that throws on some values → a durable `t.sink`. Each
 * run publishes a batch mixing valid payloads, random bytes (0 bytes up to just under
 * max_payload), deeply nested MessagePack and JSON, valid MessagePack/JSON of the wrong shape,
 * payloads under an unsupported content type, and odd or huge headers; then one last valid
 * input. Every input carries its id in `Nats-Msg-Id` (the envelope id, which every dead-letter
 * record keeps even when its headers had to be dropped) and in a custom header. Afterwards each
 * input is on the output stream once or in the dead letters once, never both; each dead letter
 * has the subject, stream and sequence of its input, its original bytes (or, cut to fit, their
 * first part with the original size), a reason naming the failure, and a log line saying the
 * same; and the run was never failed: the last input came out and `stop()` ends it as 'stopped'.
 *
 * PROP_RUNS (default 8) and PROP_SEED replay or widen it; a failure prints its seed.
 */

const numRuns = Number(process.env.PROP_RUNS ?? 8);
const seed = process.env.PROP_SEED === undefined ? undefined : Number(process.env.PROP_SEED);

const Payload = z.object({ id: z.string(), n: z.number().int(), tag: z.string().optional(), meta: z.unknown().optional() });
type Payload = z.infer<typeof Payload>;
/** The map throws on these: a user function failing on some values. */
const throwsOn = (n: number) => n % 7 === 0;
const ID_HEADER = 'Test-Input';
/** nats-server refuses a JetStream message whose headers are bigger. */
const MAX_HEADER_BYTES = 64 * 1024;
// The supervisor ends a run after 10 failures in a row (restart.maxConsecutiveFailures, as the
// README says): a batch keeps its runs of throwing inputs shorter than that.
const MAX_THROWS_IN_A_ROW = 4;
const MAX_DELIVERIES = 3;

const server = useNatsServer();
const nats = useTransport('nats', server);

// ---- what a batch is made of -------------------------------------------------------------

type Codec = 'msgpack' | 'json';
type Body =
  | { kind: 'valid'; n: number; tag: string | undefined; codec: Codec }
  | { kind: 'throws'; n: number; codec: Codec }
  | { kind: 'random'; length: number; seed: number; contentType: string | undefined }
  | { kind: 'deep'; depth: number; codec: Codec; inMeta: boolean }
  | { kind: 'wrong-shape'; value: unknown; codec: Codec }
  | { kind: 'unsupported'; contentType: string; n: number };

/** A header value; a long one as what it repeats, so a failure report stays readable. */
type HeaderValue = string | { repeat: string; times: number };
const long = (repeat: string, times: number): HeaderValue => ({ repeat, times });

interface Spec {
  body: Body;
  headers: Record<string, HeaderValue>;
  /** One header (or the payload, for `random`) grown until the message is just under max_payload. */
  huge?: { slack: number; in: 'payload' | 'header' | 'valid-payload' };
}

const MSGPACK_TYPES = [undefined, 'application/msgpack', 'application/x-msgpack', 'Application/MsgPack; v=1'];
const JSON_TYPES = ['application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON'];
const headerNameChar = fc.integer({ min: 33, max: 126 }).filter((c) => c !== 58); // printable ASCII but ':'
const RESERVED = /^(nats-|sluice-|content-type$|traceparent$|tracestate$|test-input$)/i;
const headerName = fc.oneof(
  fc.string({ unit: headerNameChar.map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 40 }).filter((k) => !RESERVED.test(k)),
  fc.constantFrom('__proto__', 'constructor', 'toString', 'X-Empty', 'x-lower', 'X-LOWER'),
);
// Any text NATS takes in a header value: no CR or LF (nats.js refuses those), leading and
// trailing space trimmed by the client.
const headerValue = fc
  .oneof(
    fc.string({ unit: 'grapheme', maxLength: 60 }),
    fc.string({ unit: 'binary', maxLength: 60 }),
    fc.constantFrom('', ' ', '\t', 'a: b', 'ü€😀', '\u0000\u0001', '\u2028'),
  )
  .map((v) => v.replace(/[\r\n]/g, ''));
/** Headers Sluice reads itself, with values it must not choke on. */
const sluiceHeaders = fc.record(
  {
    'Sluice-Event-Time': fc.constantFrom('', 'garbage', '-1', '1e400', 'NaN', '99999999999999999999', '1.5'),
    'Sluice-Key': fc.oneof(
      fc.constantFrom<HeaderValue>('', 'ü', '.', '*', '>'),
      fc.integer({ min: 1_000, max: 5_000 }).map((n) => long('k', n)),
    ),
    traceparent: fc.constantFrom<HeaderValue>(
      'garbage',
      '00-00000000000000000000000000000000-0000000000000000-00',
      'ff-' + 'a'.repeat(32) + '-' + 'b'.repeat(16) + '-01',
      long('t', 3000),
    ),
    tracestate: fc.constantFrom<HeaderValue>('=,=', 'a=b', long('s', 2000)),
    'Sluice-Replay-Of': fc.constantFrom('SLUICE_DLQ_x/1', 'nonsense'),
    'Sluice-Replay-Attempt': fc.constantFrom('1', '0', 'abc', '-3'),
  },
  { requiredKeys: [] },
);
const headers = fc
  .tuple(fc.dictionary(headerName, headerValue, { maxKeys: 5 }), sluiceHeaders, fc.integer({ min: 0, max: 150 }), fc.boolean())
  .map(([odd, sluice, many, withMany]) => {
    const out: Record<string, HeaderValue> = Object.create(null) as Record<string, HeaderValue>; // '__proto__' is a name too
    for (const [k, v] of Object.entries(odd)) out[k] = v;
    Object.assign(out, sluice);
    if (withMany) out['X-Many'] = long('', many); // expanded into that many headers
    return out;
  });

const codec = fc.constantFrom<Codec>('msgpack', 'json');
const notThrowing = fc.integer({ min: -1_000_000, max: 1_000_000 }).filter((n) => !throwsOn(n));
const body: fc.Arbitrary<Body> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('valid' as const), n: notThrowing, tag: fc.option(fc.string(), { nil: undefined }), codec }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('throws' as const), n: fc.integer({ min: -1000, max: 1000 }).map((k) => 7 * k), codec }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('random' as const),
      length: fc.oneof(fc.integer({ min: 0, max: 16 }), fc.integer({ min: 0, max: 4096 })),
      seed: fc.nat(),
      contentType: fc.constantFrom(undefined, 'application/json', 'application/msgpack'),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('deep' as const),
      depth: fc.oneof(fc.integer({ min: 1, max: 3_000 }), fc.integer({ min: 3_000, max: 60_000 })),
      codec,
      inMeta: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc
      .record({
        kind: fc.constant('wrong-shape' as const),
        value: fc.oneof(
          fc.jsonValue({ maxDepth: 3 }),
          fc.record({ id: fc.jsonValue({ maxDepth: 1 }), n: fc.jsonValue({ maxDepth: 1 }), tag: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: [] }),
        ),
        codec,
      })
      .filter((b) => !Payload.safeParse(b.value).success),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('unsupported' as const),
      contentType: fc.constantFrom('text/plain', 'application/xml', 'msgpack', 'application/protobuf'),
      n: notThrowing,
    }),
  },
);
const small: fc.Arbitrary<Spec> = fc.record({ body, headers: fc.oneof({ weight: 3, arbitrary: fc.constant({}) }, { weight: 2, arbitrary: headers }) });
// A few per batch, not hundreds: each is ~1 MiB on the wire.
const large: fc.Arbitrary<Spec & { at: number }> = fc.record({
  body: fc.oneof(
    fc.record({ kind: fc.constant('random' as const), length: fc.constant(0), seed: fc.nat(), contentType: fc.constantFrom(undefined, 'application/json') }),
    fc.record({ kind: fc.constant('valid' as const), n: notThrowing, tag: fc.constant(undefined), codec }),
  ),
  headers: fc.oneof(fc.constant({}), headers),
  huge: fc.record({
    slack: fc.oneof(fc.integer({ min: 0, max: 128 }), fc.integer({ min: 0, max: 4096 })),
    in: fc.constantFrom('payload' as const, 'header' as const, 'valid-payload' as const),
  }),
  at: fc.nat(),
});
const batch = fc.tuple(fc.array(small, { minLength: 20, maxLength: 48 }), fc.array(large, { maxLength: 2 })).map(([specs, bigs]) => {
  const all: Spec[] = [...specs];
  for (const { at, ...big } of bigs) all.splice(at % (all.length + 1), 0, big);
  let inARow = 0;
  return all.map((s): Spec => {
    inARow = s.body.kind === 'throws' ? inARow + 1 : 0;
    if (inARow <= MAX_THROWS_IN_A_ROW) return s;
    inARow = 0;
    return { ...s, body: { kind: 'valid', n: (s.body as { n: number }).n + 1, tag: undefined, codec: 'msgpack' } };
  });
});

/** One of each, at the edges random runs reach only now and then: tried first on every run. */
const EVERY_KIND: Spec[] = [
  { body: { kind: 'valid', n: 1, tag: undefined, codec: 'msgpack' }, headers: {} },
  // Outputs that cannot fit: headers at JetStream's limit, a payload at max_payload.
  { body: { kind: 'valid', n: 2, tag: undefined, codec: 'msgpack' }, headers: {}, huge: { slack: 0, in: 'header' } },
  { body: { kind: 'valid', n: 3, tag: undefined, codec: 'json' }, headers: {}, huge: { slack: 0, in: 'valid-payload' } },
  { body: { kind: 'random', length: 0, seed: 1, contentType: undefined }, headers: {}, huge: { slack: 0, in: 'payload' } },
  { body: { kind: 'random', length: 0, seed: 2, contentType: undefined }, headers: {} },
  { body: { kind: 'throws', n: 7, codec: 'msgpack' }, headers: {} },
  { body: { kind: 'deep', depth: 60_000, codec: 'msgpack', inMeta: false }, headers: {} },
  { body: { kind: 'deep', depth: 20_000, codec: 'msgpack', inMeta: true }, headers: {} },
  { body: { kind: 'deep', depth: 50_000, codec: 'json', inMeta: true }, headers: {} },
  { body: { kind: 'wrong-shape', value: { id: 1, n: 'two' }, codec: 'json' }, headers: {} },
  { body: { kind: 'unsupported', contentType: 'text/plain', n: 4 }, headers: {} },
  {
    body: { kind: 'random', length: 3, seed: 3, contentType: 'application/json' },
    headers: Object.assign(Object.create(null) as Record<string, HeaderValue>, {
      ['__proto__']: 'p',
      'Sluice-Key': long('k', 5_000),
      'Sluice-Event-Time': 'garbage',
      traceparent: long('t', 3_000),
      'X-Many': long('', 150),
    }),
  },
  { body: { kind: 'valid', n: 5, tag: 'ü', codec: 'json' }, headers: { 'Sluice-Key': long('k', 5_000), tracestate: '=,=', 'X-Empty': '' } },
];

// ---- turning a spec into a message, and what must become of it --------------------------

interface Input {
  id: string;
  subject: string;
  bytes: Uint8Array;
  headers: Record<string, string>;
  kind: Body['kind'];
  /** What is acceptable: its output, or a dead letter of one of these errors whose reason passes `reason`. */
  expect: Expectation;
}

interface Expectation {
  output: boolean;
  errors: readonly string[];
  /** Throws unless the reason says what failed; `origin` is `subject '…' (stream …, seq …)`. */
  reason: (message: string, origin: string) => void;
  /** Errors tried again on each delivery (a refused publish) before the dead letter: its `attempts` is MAX_DELIVERIES. */
  retried?: readonly string[];
}

/** Bytes NATS counts against max_payload: payload plus the header block. */
function wireSize(bytes: number, headers: Record<string, string>): number {
  let n = bytes + 12;
  for (const [k, v] of Object.entries(headers)) n += Buffer.byteLength(k) + Buffer.byteLength(v.trim()) + 4;
  return n;
}

function randomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function deepBytes(depth: number, codec: Codec, inMeta: boolean, id: string): Uint8Array {
  if (codec === 'json') {
    const nested = '['.repeat(depth) + ']'.repeat(depth);
    return new TextEncoder().encode(inMeta ? `{"id":${JSON.stringify(id)},"n":1,"meta":${nested}}` : nested);
  }
  const nested = new Uint8Array(depth + 1).fill(0x91); // depth one-element arrays around a nil
  nested[depth] = 0xc0;
  if (!inMeta) return nested;
  const head = msgpackCodec.encode({ id, n: 1 });
  const key = msgpackCodec.encode('meta');
  const out = new Uint8Array(head.length + key.length + nested.length);
  out.set(head);
  out[0] = 0x83; // the fixmap of two gets a third entry
  out.set(key, head.length);
  out.set(nested, head.length + key.length);
  return out;
}

function says(message: string, ...parts: string[]): void {
  for (const p of parts) if (!message.includes(p)) throw new Error(`reason ${JSON.stringify(message.slice(0, 300))} does not say ${JSON.stringify(p)}`);
}

const encode = (codec: Codec, value: unknown) => (codec === 'json' ? jsonCodec.encode(value) : msgpackCodec.encode(value));
const contentTypeOf = (codec: Codec, n: number) =>
  codec === 'json' ? JSON_TYPES[Math.abs(n) % JSON_TYPES.length] : MSGPACK_TYPES[Math.abs(n) % MSGPACK_TYPES.length];
const OUTPUT: Expectation = { output: true, errors: [], reason: () => undefined };
const UNREADABLE: Expectation = { output: false, errors: ['DecodeError', 'PayloadSchemaError'], reason: (m, origin) => says(m, origin) };

/** The message for `spec` and what must become of it. */
function build(spec: Spec, id: string, subject: string, maxPayload: number): Input {
  const headers = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(spec.headers)) {
    if (typeof v === 'string') headers[k] = v;
    else if (k === 'X-Many') for (let i = 0; i < v.times; i++) headers[`X-Many-${i}`] = String(i);
    else headers[k] = v.repeat.repeat(v.times);
  }
  headers[ID_HEADER] = id;
  const b = spec.body;
  let bytes: Uint8Array;
  let contentType: string | undefined;
  let expected: Expectation;
  let kind = b.kind;
  switch (b.kind) {
    case 'valid':
      bytes = encode(b.codec, { id, n: b.n, ...(b.tag !== undefined ? { tag: b.tag } : {}) });
      contentType = contentTypeOf(b.codec, b.n);
      expected = OUTPUT;
      break;
    case 'throws':
      bytes = encode(b.codec, { id, n: b.n });
      contentType = contentTypeOf(b.codec, b.n);
      expected = { output: false, errors: ['Error'], reason: (m) => says(m, `refusing n=${b.n}`, id) };
      break;
    case 'random':
      bytes = randomBytes(b.length, b.seed);
      contentType = b.contentType;
      // Random bytes may decode (a lone byte is a number): then the schema refuses them.
      expected = UNREADABLE;
      break;
    case 'deep':
      bytes = deepBytes(b.depth, b.codec, b.inMeta, id);
      contentType = contentTypeOf(b.codec, 0);
      expected = b.inMeta
        ? // Valid when shallow enough; else too deep to decode (MessagePack) or to encode again (at the sink).
          { output: true, errors: ['DecodeError', 'EncodeError'], reason: (m) => says(m, 'Maximum call stack size exceeded') }
        : UNREADABLE;
      break;
    case 'wrong-shape': {
      bytes = encode(b.codec, b.value);
      contentType = contentTypeOf(b.codec, 0);
      const paths = Payload.safeParse(b.value)
        .error!.issues.slice(0, 5)
        .map((i) => `${i.path.length === 0 ? '(root)' : i.path.map(String).join('.')}: `);
      expected = { output: false, errors: ['PayloadSchemaError'], reason: (m, origin) => says(m, origin, 'does not match its schema', ...paths) };
      break;
    }
    case 'unsupported':
      bytes = msgpackCodec.encode({ id, n: b.n });
      contentType = b.contentType;
      expected = { output: false, errors: ['DecodeError'], reason: (m, origin) => says(m, origin, `unsupported content type '${b.contentType}'`) };
      break;
  }
  if (contentType !== undefined) headers['Content-Type'] = contentType;
  if (spec.huge !== undefined) {
    // Up to `slack` bytes under max_payload (a header: under JetStream's 64 KiB for all headers),
    // with the Nats-Msg-Id the publish adds.
    const room = maxPayload - wireSize(bytes.length, { ...headers, 'Nats-Msg-Id': id }) - spec.huge.slack - 64;
    if (spec.huge.in === 'header') headers['X-Huge'] = 'h'.repeat(MAX_HEADER_BYTES - wireSize(0, { ...headers, 'Nats-Msg-Id': id }) - spec.huge.slack - 64);
    else if (spec.huge.in === 'valid-payload' && b.kind === 'valid') {
      bytes = encode(b.codec, { id, n: b.n, tag: 't'.repeat(room - 16) }); // 16: the field's name and header
    } else {
      bytes = randomBytes(bytes.length + room, b.kind === 'random' ? b.seed : 1);
      kind = 'random';
      expected = UNREADABLE;
    }
    if (expected.output) {
      // Its output is this input plus a field and a few headers: it may not fit max_payload. Then
      // its publish is refused on every delivery and it is dead-lettered, saying why.
      expected = {
        output: true,
        errors: ['TransportError'],
        retried: ['TransportError'],
        reason: (m) => expect(m).toMatch(/max.?payload|maximum payload|header size exceeds/i),
      };
    }
  }
  return { id, subject, bytes, headers, kind, expect: expected };
}

// ---- one run ----------------------------------------------------------------------------

interface LogLine {
  level: number;
  msg: string;
  subject?: string;
  seq?: number;
  msgId?: string;
  reason?: string;
  error?: string;
}

async function runBatch(specs: readonly Spec[]): Promise<void> {
  const transport = nats();
  const name = uniqueName('badin');
  const streamName = uniqueName('BADIN').toUpperCase();
  const outStream = `${streamName}_OUT`;
  const outSubject = `${name}.out`;
  await transport.ensureStream({ name: streamName, subjects: [`${name}.in.>`] });
  await transport.ensureStream({ name: outStream, subjects: [outSubject] });
  const logs: LogLine[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
  const topology = defineTopology(name, (t) =>
    t.stream<Payload>(streamName, `${name}.in.>`, { schema: Payload, maxDeliveries: MAX_DELIVERIES, redeliveryDelayMs: 10 }).pipe(
      map((e): Envelope<Payload & { double: number }> => {
        if (throwsOn(e.data.n)) throw new Error(`refusing n=${e.data.n} (a multiple of 7) for ${e.data.id}`);
        return { ...e, data: { ...e.data, double: e.data.n * 2 } };
      }),
      t.sink(outSubject, { durable: true, stream: outStream }),
    ),
  );
  const run = await runTopology(topology, { transport, logger, report: () => undefined, closeTransport: false, service: false });
  let ended: TopologyExit | undefined;
  void run.done.then((exit) => (ended = exit));
  try {
    const tokens = ['a', 'b.c', 'ü', '_-', 'x1'];
    const inputs: Input[] = specs.map((s, i) => build(s, `${name}-${i}`, `${name}.in.${tokens[i % tokens.length]}`, transport.maxPayloadBytes));
    const last = build(
      { body: { kind: 'valid', n: 1, tag: 'last', codec: 'msgpack' }, headers: {} },
      `${name}-last`,
      `${name}.in.last`,
      transport.maxPayloadBytes,
    );
    inputs.push(last);
    const seqOf = new Map<string, number>();
    for (const input of inputs) {
      const ack = await transport.publishDurable(input.subject, input.bytes, { headers: input.headers, msgId: input.id });
      expect(ack.duplicate).toBe(false);
      seqOf.set(input.id, ack.seq);
    }

    const dlqStream = deadLetterStreamName(name);
    const readOut = async () => ((await transport.streamState(outStream)).messages === 0 ? [] : readStream(transport, outStream));
    const readDead = async () => ((await transport.streamState(dlqStream)).messages === 0 ? [] : readStream(transport, dlqStream));
    const count = async () => (await transport.streamState(outStream)).messages + (await transport.streamState(dlqStream)).messages;
    await until(async () => ended !== undefined || (await count()) >= inputs.length, {
      what: `all ${inputs.length} inputs output or dead-lettered`,
      timeoutMs: 20_000,
    });
    expect(ended, 'the run ended by itself').toBeUndefined();
    // Anything more (a duplicate) would have arrived with the rest: give it a moment to show.
    await new Promise((r) => setTimeout(r, 100));

    const outputs = await readOut();
    const dead = await readDead();
    const outIds = outputs.map((m) => (msgpackCodec.decode(m.data) as Payload).id);
    const records = dead.map((m) => ({ message: m, record: decodeDeadLetter(m.data) }));
    const byId = new Map(inputs.map((i) => [i.id, i]));
    const seen = new Map<string, string>();
    const note = (id: string, where: string) => {
      expect(byId.has(id), `unknown input ${id} ${where}`).toBe(true);
      expect(seen.get(id), `${id} ${where}, and before that ${seen.get(id)}`).toBeUndefined();
      seen.set(id, where);
    };
    for (const [k, id] of outIds.entries()) {
      note(id, 'output');
      const input = byId.get(id)!;
      expect(input.expect.output, `${id} (${input.kind}) was output`).toBe(true);
      expect(outputs[k]!.headers[ID_HEADER]).toBe(id);
    }
    for (const { message, record } of records) {
      note(record.id, `dead-lettered (${record.error.name}: ${record.error.message.slice(0, 200)})`);
      checkDeadLetter(byId.get(record.id)!, seqOf.get(record.id)!, streamName, message, record, logs);
    }
    const missing = inputs.filter((i) => !seen.has(i.id)).map((i) => `${i.id} (${i.kind})`);
    expect(missing, 'inputs neither output nor dead-lettered').toEqual([]);
    expect(outIds).toContain(last.id);
    expect(logs.filter((l) => l.level >= 50).map((l) => l.msg)).toEqual([]);
  } finally {
    const exit = await run.stop();
    expect(exit.reason, `run ended: ${exit.error?.message ?? ''}`).toBe('stopped');
  }
}

function checkDeadLetter(input: Input, seq: number, stream: string, message: StreamMessage, record: DeadLetterRecord, logs: readonly LogLine[]): void {
  const what = `${input.id} (${input.kind}): ${record.error.name}: ${record.error.message.slice(0, 200)}`;
  expect(input.expect.errors, what).toContain(record.error.name);
  input.expect.reason(record.error.message, `subject '${input.subject}' (stream ${stream}, seq ${seq})`);
  const attempts = input.expect.retried?.includes(record.error.name) === true ? MAX_DELIVERIES : 1;
  expect({ subject: record.subject, stream: record.stream, seq: record.seq, payloadSource: record.payloadSource, attempts: record.attempts }, what).toEqual({
    subject: input.subject,
    stream,
    seq,
    payloadSource: 'raw',
    attempts,
  });
  expect(message.headers[DEAD_LETTER_HEADERS.subject]).toBe(input.subject);
  expect(message.headers[DEAD_LETTER_HEADERS.seq]).toBe(String(seq));
  expect(message.headers[DEAD_LETTER_HEADERS.error]).toBe(record.error.name);
  if (record.payloadTruncated === true) {
    // Too big to keep whole: its first part, its size, and where the original is (stream, seq).
    expect(record.payloadBytes, what).toBe(input.bytes.length);
    expect(Buffer.from(record.payload).equals(Buffer.from(input.bytes.subarray(0, record.payload.length))), what).toBe(true);
    expect(message.headers[DEAD_LETTER_HEADERS.truncated]).toBe('true');
  } else {
    expect(Buffer.from(record.payload).equals(Buffer.from(input.bytes)), `${what}: the original bytes`).toBe(true);
    // The headers as received (nats.js trims values). The record holds a header named __proto__
    // as it came; msgpackr reads that key back as __proto_ (its guard against prototype pollution).
    const sent = Object.fromEntries(Object.entries(input.headers).map(([k, v]) => [k === '__proto__' ? '__proto_' : k, v.trim()]));
    expect(record.headers, what).toEqual({ ...sent, 'Nats-Msg-Id': input.id });
  }
  const logged = logs.filter((l) => l.msg === 'dead-lettered a message' && l.msgId === input.id);
  expect(logged, `${what}: one log line`).toHaveLength(1);
  expect({ subject: logged[0]!.subject, seq: logged[0]!.seq, error: logged[0]!.error, reason: logged[0]!.reason }).toEqual({
    subject: input.subject,
    seq,
    error: record.error.name,
    reason: record.error.message,
  });
}

describe('bad input through a real stream source (property, real nats-server)', () => {
  it('every input is output once or dead-lettered once with its bytes, subject, sequence and reason; the run never stops', { timeout: 120_000 }, async () => {
    const property = fc.asyncProperty(batch, runBatch);
    // Each case is a whole topology run: replay a failure from its seed rather than shrink it here.
    const details = await fc.check(property, { numRuns, seed, endOnFailure: true, examples: [[EVERY_KIND]] });
    if (details.failed) {
      console.error(`bad-input property failed: seed ${details.seed}, path ${details.counterexamplePath} (rerun with PROP_SEED=${details.seed})`);
      await fc.assert(property, { numRuns, seed: details.seed, path: details.counterexamplePath ?? undefined, endOnFailure: true });
    }
  });
});
