import { msgpackCodec } from '../codec/msgpack-codec.js';
import { jsonCodec } from '../codec/json-codec.js';
import { HEADERS } from '../envelope/envelope.js';
import { REPLY_TO_HEADER } from '../actors/run-behaviour.js';
import type { JsonSchema } from '../schema/payload-schema.js';
import { subjectMatches, subjectsOverlap } from '../transport/subject.js';
import { deadLetterStreamConfig, deadLetterStreamName, deadLetterSubject, REPLAYED_PART } from '../dead-letter/dead-letter-subject.js';
import { REPLAY_HEADERS } from '../dead-letter/dead-letter-record.js';
import { DEAD_LETTER_HEADERS } from '../dead-letter/encode-dead-letter.js';
import { deadLetterJsonSchema, replayMarkerJsonSchema } from '../dead-letter/dead-letter-json-schema.js';
import type { Topology } from './define-topology.js';
import { describeTopology, pathsOf, type TopologyPath } from './describe-topology.js';
import type { Guarantee } from '../observe/path-guarantee.js';
import { RESPOND_HEADERS } from './mount-responder.js';
import { SERVICE_ENDPOINTS, serviceSubject } from './service-subject.js';
import type { WiringNode } from './types.js';

/**
 * Which way a subject goes, seen from the topology: `in` it reads (other services publish),
 * `out` it publishes (other services subscribe), `dead-letter` where it parks what it gave up on,
 * `request` it answers (core request/reply), `reply` where it sends answers, `internal` between
 * its own parts (listed so nothing on the wire is unexplained; not for other services).
 */
export type Direction = 'in' | 'out' | 'dead-letter' | 'request' | 'reply' | 'internal';

/** A header on a subject's messages. */
export interface ContractHeader {
  readonly name: string;
  /** `always` on every message Sluice writes; `sometimes` as described; `optional` for publishers to set. */
  readonly presence: 'always' | 'sometimes' | 'optional';
  readonly description: string;
}

/** One subject (or pattern, with `*` / `>`) of a topology. */
export interface ContractSubject {
  readonly subject: string;
  readonly direction: Direction;
  /** The part that reads or writes it: `source`, `stream <name>`, `sink <name>`, `actor <name>`, `durable-batch <name>`, `runtime`, `service`. */
  readonly part: string;
  /** `none` for what never goes on the wire (a schedule's runs). */
  readonly transport: 'core' | 'jetstream' | 'none';
  /** The JetStream stream that captures it, when known. */
  readonly stream?: string | undefined;
  /** The durable consumer the topology reads it with. */
  readonly consumer?: string | undefined;
  /** JSON Schema (draft 2020-12) of the decoded payload; absent when the topology declares none. */
  readonly payload?: JsonSchema | undefined;
  /** What the payload is encoded as: `application/msgpack` unless the `Content-Type` header says otherwise. */
  readonly contentType: string;
  readonly headers: readonly ContractHeader[];
  /** What the path through this subject survives (README "Guarantees"). */
  readonly guarantee?: Guarantee | undefined;
  readonly because?: string | undefined;
  readonly description?: string | undefined;
}

/**
 * A topology's wire contract: everything another service needs to publish to it or subscribe to
 * it. `sluice describe --json` prints it, the topology's micro service answers it on
 * `sluice.svc.<topology>.describe`, and `toAsyncApi` turns it into an AsyncAPI 3.0 document.
 */
export interface TopologyContract {
  /** Format of this document; changes only when a field changes meaning. */
  readonly format: 'sluice.describe/1';
  readonly name: string;
  /** Content types every input accepts (by `Content-Type` header; none means MessagePack). */
  readonly contentTypes: readonly string[];
  readonly subjects: readonly ContractSubject[];
  /** JetStream streams the topology creates or reads, with the subjects each captures. */
  readonly streams: readonly { readonly name: string; readonly subjects: readonly string[] }[];
  /** Every source-to-output path with its guarantee. */
  readonly paths: readonly TopologyPath[];
  /** The topology's own dead-letter subject (parts may have their own: see `subjects`). */
  readonly deadLetterSubject: string;
  /** The wiring as `describeTopology` found it. */
  readonly nodes: readonly WiringNode[];
}

const H = {
  contentTypeIn: {
    name: HEADERS.contentType,
    presence: 'optional',
    description: `${msgpackCodec.contentType} (the default when absent) or ${jsonCodec.contentType}`,
  },
  msgIdIn: {
    name: HEADERS.msgId,
    presence: 'optional',
    description: 'JetStream drops a second publish with the same id within the stream duplicate window; the id also names the message in dead letters',
  },
  eventTimeIn: { name: HEADERS.eventTime, presence: 'optional', description: 'event time, epoch milliseconds as a decimal integer; default: when it arrived' },
  keyIn: { name: HEADERS.key, presence: 'optional', description: 'actor/partition key' },
  replayOf: {
    name: REPLAY_HEADERS.of,
    presence: 'optional',
    description: 'on a message replayed from the dead letters: `<dead-letter stream>/<seq>` of its record',
  },
  replayAttempt: {
    name: REPLAY_HEADERS.attempt,
    presence: 'optional',
    description: 'on a replayed message: 1 for the first replay, 2 for a parked record replayed again, ...',
  },
  otherIn: {
    name: '*',
    presence: 'optional',
    description: 'any other header (e.g. W3C traceparent/tracestate) is carried unchanged to what the message causes; Sluice writes no trace headers itself',
  },
  contentTypeOut: {
    name: HEADERS.contentType,
    presence: 'always',
    description: `${msgpackCodec.contentType} (or ${jsonCodec.contentType} for a JSON sink); a routed message forwarded byte for byte keeps the header it arrived with, and none means MessagePack`,
  },
  eventTimeOut: {
    name: HEADERS.eventTime,
    presence: 'sometimes',
    description: 'event time of the input, epoch milliseconds as a decimal integer (when the output is an envelope)',
  },
  keyOut: { name: HEADERS.key, presence: 'sometimes', description: 'the key, when one was assigned' },
  forwarded: { name: '*', presence: 'sometimes', description: 'headers of the input it came from, except Nats-Msg-Id (trace headers travel this way)' },
} as const satisfies Record<string, ContractHeader>;

const sinkMsgId = (topology: string, sink: string): ContractHeader => ({
  name: HEADERS.msgId,
  presence: 'sometimes',
  description: `\`${topology}.${sink}.<stream>:<seq>.<n>\`: the n-th output of input <stream>:<seq>, when that input came from a durable stream read; the same on every redelivery, so JetStream drops the re-publish`,
});

const DEAD_LETTER_OUT: readonly ContractHeader[] = [
  { name: HEADERS.contentType, presence: 'always', description: msgpackCodec.contentType },
  { name: DEAD_LETTER_HEADERS.subject, presence: 'always', description: 'the subject the message arrived on' },
  { name: DEAD_LETTER_HEADERS.error, presence: 'always', description: 'the error class name (e.g. PayloadSchemaError, DecodeError, TerminalError)' },
  { name: DEAD_LETTER_HEADERS.reason, presence: 'always', description: 'the reason in one line (at most 500 characters)' },
  { name: DEAD_LETTER_HEADERS.stream, presence: 'sometimes', description: 'the stream it was read from' },
  { name: DEAD_LETTER_HEADERS.seq, presence: 'sometimes', description: 'its sequence in that stream' },
  { name: DEAD_LETTER_HEADERS.truncated, presence: 'sometimes', description: '`true` when the payload is only the first part of the original' },
  { name: DEAD_LETTER_HEADERS.replayAttempt, presence: 'sometimes', description: 'on a parked record: the replay attempt that failed' },
];

const EXACTLY_ONCE = 'state, outputs (outbox) and input position commit in one LMDB transaction; outputs carry deterministic ids';
const ORDER = { in: 0, request: 1, out: 2, reply: 3, 'dead-letter': 4, internal: 5 } as const;

/**
 * The contract of a topology from its wiring (`describeTopology(t).nodes`, or the nodes a running
 * topology recorded). Dead-letter subjects come from the functions the runtime publishes with.
 * `service`: list the micro service's request subjects (a topology on NATS registers one).
 */
export function contractOf(name: string, nodes: readonly WiringNode[], options: { service?: boolean | undefined } = {}): TopologyContract {
  const subjects: ContractSubject[] = [];
  const streams = new Map<string, Set<string>>();
  const addStream = (stream: string | undefined, list: readonly string[]): void => {
    if (stream === undefined) return;
    const set = streams.get(stream) ?? new Set<string>();
    for (const s of list) set.add(s);
    streams.set(stream, set);
  };
  const parts = nodes.filter((n) => n.kind === 'actor' || n.kind === 'durable-batch' || n.kind === 'durable-window');
  const partSubjects = parts.flatMap((n) => splitSubjects(n.subject));
  const emitted = parts.flatMap((n) => n.emits ?? []);
  const dlqStream = deadLetterStreamName(name);
  const dlqSubjects = deadLetterStreamConfig(name).subjects;
  const deadLetter = (subject: string, part: string): ContractSubject => ({
    subject,
    direction: 'dead-letter',
    part,
    transport: 'jetstream',
    // A durable batch may send its dead letters to a subject of its own choosing, outside the stream.
    stream: dlqSubjects.some((p) => subjectMatches(p, subject)) ? dlqStream : undefined,
    payload: deadLetterJsonSchema(),
    contentType: msgpackCodec.contentType,
    headers: DEAD_LETTER_OUT,
    description: 'what the topology gave up on, with the original bytes and the reason; replay publishes `payload` with `headers` on `subject`',
  });

  for (const n of nodes) {
    if (n.kind === 'source') {
      subjects.push({
        subject: n.subject,
        direction: 'in',
        part: 'source',
        transport: 'core',
        payload: n.payload,
        contentType: msgpackCodec.contentType,
        headers: [H.contentTypeIn, H.eventTimeIn, H.keyIn, H.replayOf, H.replayAttempt, H.otherIn],
        guarantee: 'at-most-once',
        because: `core NATS${n.queue !== undefined ? ` (queue group ${n.queue})` : ''}: what arrives while no instance runs is gone`,
      });
    } else if (n.kind === 'stream') {
      const list = n.subjects ?? splitSubjects(n.subject);
      addStream(n.stream, list);
      // A part's outputs read back by the topology are listed once, as that part's outputs.
      if (list.every((s) => emitted.includes(s))) continue;
      for (const subject of list) {
        subjects.push({
          subject,
          direction: 'in',
          part: `stream ${n.stream ?? '?'}`,
          transport: 'jetstream',
          stream: n.stream,
          consumer: n.durableName,
          payload: n.payload,
          contentType: msgpackCodec.contentType,
          headers: [H.contentTypeIn, H.msgIdIn, H.eventTimeIn, H.keyIn, H.replayOf, H.replayAttempt, H.otherIn],
          guarantee: n.ordered === true ? 'at-most-once' : 'at-least-once',
          because:
            n.ordered === true
              ? 'ordered read: nothing acknowledged'
              : 'acknowledged only after every effect it caused is complete; see the paths for end-to-end guarantees',
        });
      }
    } else if (n.kind === 'sink') {
      const list = n.subjects ?? splitSubjects(n.subject);
      addStream(n.stream, list);
      const internal = list.length > 0 && list.every((s) => partSubjects.some((p) => subjectsOverlap(p, s)));
      const guarantees = (n.paths ?? []).map((p) => p.guarantee);
      const weakest = guarantees.length > 0 ? weakestOf(guarantees) : undefined;
      for (const subject of list) {
        const owner = internal ? parts.find((p) => splitSubjects(p.subject).some((ps) => subjectsOverlap(ps, subject))) : undefined;
        subjects.push({
          subject,
          direction: internal ? 'internal' : 'out',
          part: `sink ${n.name ?? '?'}`,
          transport: n.durable === true ? 'jetstream' : 'core',
          stream: n.stream ?? owner?.stream,
          payload: n.payload,
          contentType: msgpackCodec.contentType,
          headers: [
            H.contentTypeOut,
            ...(n.durable === true ? [sinkMsgId(name, n.name ?? '?')] : []),
            H.eventTimeOut,
            H.keyOut,
            ...(internal ? [{ name: HEADERS.originSubject, presence: 'always', description: 'the subject the input first arrived on' } as const] : []),
            H.forwarded,
          ],
          guarantee: weakest,
          because:
            weakest !== undefined
              ? (n.paths ?? [])
                  .filter((p) => p.guarantee === weakest)
                  .map((p) => `from ${p.from}: ${p.because}`)
                  .join('; ')
              : undefined,
          description: internal ? 'hand-over to a part of the topology through its own stream' : undefined,
        });
      }
    } else if (n.kind === 'respond') {
      subjects.push(...responderSubjectsOf(name, n));
    } else if (n.kind === 'schedule') {
      subjects.push(scheduleSubjectOf(n));
    } else if (n.kind === 'actor' || n.kind === 'durable-batch' || n.kind === 'durable-window') {
      subjects.push(...partSubjectsOf(name, n));
      addStream(n.stream, splitSubjects(n.subject));
      for (const s of n.outputStreams ?? []) addStream(s.name, s.subjects);
      if (n.deadLetterSubject !== undefined && n.deadLetterSubject !== deadLetterSubject(name)) {
        subjects.push(deadLetter(n.deadLetterSubject, `${n.kind} ${n.name ?? '?'}`));
      }
    }
  }
  subjects.push(deadLetter(deadLetterSubject(name), 'runtime'));
  subjects.push({
    subject: deadLetterSubject(name, REPLAYED_PART),
    direction: 'dead-letter',
    part: 'runtime',
    transport: 'jetstream',
    stream: dlqStream,
    payload: replayMarkerJsonSchema(),
    contentType: msgpackCodec.contentType,
    headers: [
      { name: HEADERS.contentType, presence: 'always', description: msgpackCodec.contentType },
      { name: HEADERS.msgId, presence: 'always', description: '`sluice-replayed:<dead-letter stream>:<seq>`' },
    ],
    description: 'replay markers: a record was replayed (written by replayDeadLetters; docs/dead-letters.md)',
  });
  // The stream captures every part's dead letters (the runtime creates it so).
  addStream(dlqStream, dlqSubjects);
  if (options.service === true) {
    for (const endpoint of SERVICE_ENDPOINTS) {
      subjects.push({
        subject: serviceSubject(name, endpoint),
        direction: 'request',
        part: 'service',
        transport: 'core',
        contentType: jsonCodec.contentType,
        headers: [],
        description: `micro service endpoint '${endpoint}' (JSON request and answer; see serveTopologyService)`,
      });
    }
    subjects.push({
      subject: '$SRV.>',
      direction: 'request',
      part: 'service',
      transport: 'core',
      contentType: jsonCodec.contentType,
      headers: [],
      description: `NATS micro service discovery (PING, INFO, STATS) for sluice-${name}`,
    });
  }
  subjects.sort((a, b) => ORDER[a.direction] - ORDER[b.direction]);
  return {
    format: 'sluice.describe/1',
    name,
    contentTypes: [msgpackCodec.contentType, jsonCodec.contentType],
    subjects,
    streams: [...streams].map(([stream, set]) => ({ name: stream, subjects: [...set] })),
    paths: pathsOf(nodes),
    deadLetterSubject: deadLetterSubject(name),
    nodes,
  };
}

/** The subjects of an actor or durable batch: its inputs, own stream, outputs, queries. */
function partSubjectsOf(topology: string, n: WiringNode): ContractSubject[] {
  const out: ContractSubject[] = [];
  const part = `${n.kind} ${n.name ?? '?'}`;
  const inputs = n.inputs ?? [];
  const payloadOf = (subject: string): JsonSchema | undefined => n.payloads?.[subject];
  for (const subject of inputs) {
    out.push({
      subject,
      direction: 'in',
      part,
      transport: 'jetstream',
      stream: n.stream,
      payload: payloadOf(subject),
      contentType: msgpackCodec.contentType,
      headers: [H.contentTypeIn, H.msgIdIn, H.eventTimeIn, H.otherIn],
      guarantee: 'exactly-once',
      because: EXACTLY_ONCE,
    });
  }
  for (const subject of splitSubjects(n.subject)) {
    if (inputs.includes(subject)) continue;
    const own = { part, transport: 'jetstream', stream: n.stream, contentType: msgpackCodec.contentType } as const;
    if (n.kind === 'actor' && subject.endsWith('.tell')) {
      out.push({
        ...own,
        subject,
        direction: 'in',
        headers: [
          H.contentTypeIn,
          H.msgIdIn,
          { name: REPLY_TO_HEADER, presence: 'optional', description: "inbox for the behaviour's ctx.reply (askActor)" },
          H.otherIn,
        ],
        guarantee: 'exactly-once',
        because: EXACTLY_ONCE,
        description: 'a message to the actor of the key in the token before `.tell` (tellActor/askActor build it)',
      });
    } else if (n.kind === 'actor' && subject.endsWith('.reset')) {
      out.push({
        ...own,
        subject,
        direction: 'in',
        headers: [H.contentTypeIn, H.msgIdIn],
        guarantee: 'exactly-once',
        because: EXACTLY_ONCE,
        description: 'un-stops a key stopped by supervision (resetActorKey)',
      });
    } else {
      out.push({
        ...own,
        subject,
        direction: 'internal',
        headers: [H.contentTypeIn, H.msgIdIn, { name: HEADERS.originSubject, presence: 'sometimes', description: 'the subject the input first arrived on' }],
        description: n.kind === 'actor' ? 'timer firings and hand-over inside the actor' : 'values and triggers handed to the batch',
      });
    }
  }
  // Outputs: the concrete subjects with a schema, then the declared patterns no schema covers.
  const typed = Object.keys(n.payloads ?? {}).filter((s) => !inputs.includes(s));
  const emits = [...typed, ...(n.emits ?? []).filter((p) => !typed.some((s) => subjectMatches(p, s)))];
  const msgId = n.kind === 'actor' ? `\`${topology}.actor-${n.name ?? '?'}.<input seq>.<n>\`` : `\`${topology}.${n.name ?? '?'}.batch.<batch>.<n>\``;
  for (const subject of emits) {
    const stream = (n.outputStreams ?? []).find((s) => s.subjects.some((p) => subjectMatches(p, subject) || p === subject))?.name;
    out.push({
      subject,
      direction: 'out',
      part,
      transport: 'jetstream',
      stream,
      payload: payloadOf(subject),
      contentType: msgpackCodec.contentType,
      headers: [
        n.kind === 'actor'
          ? { name: HEADERS.contentType, presence: 'always', description: msgpackCodec.contentType }
          : {
              name: HEADERS.contentType,
              presence: 'sometimes',
              description: "what the batch's flush passes to emit with the bytes it encoded (none means MessagePack)",
            },
        { name: HEADERS.msgId, presence: 'always', description: `${msgId}: deterministic, so a re-publish after a crash is dropped as a duplicate` },
        ...(n.kind === 'actor' ? [{ name: HEADERS.key, presence: 'always', description: 'the actor key that emitted it' } as const] : []),
      ],
      guarantee: 'exactly-once',
      because: EXACTLY_ONCE,
    });
  }
  if (n.queryPattern !== undefined) {
    out.push({
      subject: n.queryPattern,
      direction: 'request',
      part,
      transport: 'core',
      contentType: msgpackCodec.contentType,
      headers: [],
      guarantee: 'at-most-once',
      because: 'core request/reply',
      description: 'state query for the key in the last token (queryActorState): answered from committed state',
    });
  }
  if (n.kind === 'actor') {
    out.push({
      subject: `(the ${REPLY_TO_HEADER} header of a told message)`,
      direction: 'reply',
      part,
      transport: 'core',
      contentType: msgpackCodec.contentType,
      headers: [
        { name: HEADERS.contentType, presence: 'always', description: msgpackCodec.contentType },
        { name: HEADERS.key, presence: 'always', description: 'the actor key' },
      ],
      guarantee: 'at-most-once',
      because: 'sent after the commit; a crash in between loses the reply, not the effect',
      description: "the behaviour's ctx.reply",
    });
  }
  return out;
}

const AT_MOST_ONCE_REQUEST = "core request/reply: a request lost in a crash or while no instance runs is not answered; the requester's timeout decides";

/** A `t.respond` responder: the requests it answers and the replies it sends to the requester's inbox. */
function responderSubjectsOf(topology: string, n: WiringNode): ContractSubject[] {
  const part = `respond ${n.name ?? n.subject}`;
  return [
    {
      subject: n.subject,
      direction: 'request',
      part,
      transport: 'core',
      payload: n.payload,
      contentType: msgpackCodec.contentType,
      headers: [{ ...H.contentTypeIn, description: `${H.contentTypeIn.description}; the reply is encoded the same way` }, H.otherIn],
      guarantee: 'at-most-once',
      because: AT_MOST_ONCE_REQUEST,
      description: `core request/reply (queue group ${n.queue ?? '?'}); a request that cannot be decoded${n.payload !== undefined ? ' or does not match its schema' : ''}, or whose handling fails, gets an error reply and goes to the dead letters on ${deadLetterSubject(topology)} (operator respond:${n.name ?? n.subject})`,
    },
    {
      subject: `(the reply inbox of a request on ${n.subject})`,
      direction: 'reply',
      part,
      transport: 'core',
      payload: n.replyPayload,
      contentType: msgpackCodec.contentType,
      headers: [
        {
          name: HEADERS.contentType,
          presence: 'sometimes',
          description: `on an answer: the request's encoding (${msgpackCodec.contentType} when it had none), or the responder's codec`,
        },
        {
          name: RESPOND_HEADERS.outcome,
          presence: 'always',
          description: '`answered` (the handler), `deadline` or `overloaded` (the fallback answered), or `error`',
        },
        {
          name: RESPOND_HEADERS.error,
          presence: 'sometimes',
          description: 'on an error reply (empty body): `<ErrorName>: <message>`, one line, at most 500 characters',
        },
        {
          name: RESPOND_HEADERS.errorCode,
          presence: 'sometimes',
          description: 'on an error reply: `400` the request could not be decoded or did not match its schema, `500` the handler or fallback failed',
        },
      ],
      guarantee: 'at-most-once',
      because: AT_MOST_ONCE_REQUEST,
      description: `exactly one reply per request on its reply subject, within the responder's deadline (the fallback's when the handler is late)`,
    },
  ];
}

/** A `t.schedule`: runs are envelopes on `schedule.<name>` inside the process, never published unless a sink publishes them. */
function scheduleSubjectOf(n: WiringNode): ContractSubject {
  const t = n.timing;
  const catchUp = t?.catchUp ?? 'skip';
  const when = `cron '${t?.cron ?? '?'}' in ${t?.tz ?? "the process's local time zone"}, catch-up '${catchUp}', overlap '${t?.overlap ?? 'skip'}'`;
  return {
    subject: n.subject,
    direction: 'internal',
    part: `schedule ${n.name ?? '?'}`,
    transport: 'none',
    contentType: msgpackCodec.contentType,
    headers: [],
    guarantee: catchUp === 'all' ? 'at-least-once' : 'at-most-once',
    because:
      catchUp === 'all'
        ? 'its state (LMDB) moves past a run only once the run is done: every fire time is run, again after a crash; exactly once into a durable sink (same id)'
        : catchUp === 'once'
          ? 'after a restart only the latest missed run is run; earlier ones are skipped'
          : 'runs missed while down are skipped',
    description: `calendar source, ${when}; id \`schedule:<name>:<scheduledAt>\`, data \`{ name, scheduledAt, firedAt, catchUp, runs }\`; in-process only (not on the wire)`,
  };
}

function splitSubjects(subject: string): string[] {
  if (subject.startsWith('(')) return [subject];
  return subject
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function weakestOf(guarantees: readonly Guarantee[]): Guarantee {
  const rank: Record<Guarantee, number> = { 'at-most-once': 0, 'at-least-once': 1, 'exactly-once': 2 };
  return guarantees.reduce((a, b) => (rank[b] < rank[a] ? b : a));
}

/**
 * A topology's contract without running it (see {@link contractOf} and `describeTopology`).
 * Lists the micro service subjects too: a topology run on NATS registers them.
 * @throws whatever the builder throws.
 */
export function describeContract(topology: Topology): TopologyContract {
  return contractOf(topology.name, describeTopology(topology).nodes, { service: true });
}
