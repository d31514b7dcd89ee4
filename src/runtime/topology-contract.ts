import { msgpackCodec } from '../codec/msgpack-codec.js';
import { jsonCodec } from '../codec/json-codec.js';
import { HEADERS } from '../envelope/envelope.js';
import { subjectsOverlap } from '../transport/subject.js';
import { deadLetterStreamConfig, deadLetterStreamName, deadLetterSubject } from '../dead-letter/dead-letter-subject.js';
import type { Topology } from './define-topology.js';
import { describeTopology, pathsOf, type TopologyPath } from './describe-topology.js';
import { ORDERED_READ, type Guarantee } from '../observe/path-guarantee.js';
import { CONTRACT_HEADERS as H, sinkMsgIdHeader } from './contract-headers.js';
import type { ContractSubject } from './contract-subject.js';
import { deadLetterContractSubject, replayMarkerContractSubject } from './dead-letter-contract-subjects.js';
import { RESPOND_HEADERS } from './mount-responder.js';
import { partSubjectsOf } from './part-subjects-of.js';
import { SERVICE_ENDPOINTS, serviceSubject } from './service-subject.js';
import { splitSubjects } from './split-subjects.js';
import type { WiringNode } from './types.js';

export type { ContractHeader, ContractSubject, Direction } from './contract-subject.js';

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
      // A filtered read consumes its filter's subject only: another read of the stream lists the rest.
      const read = n.filterSubject !== undefined ? [n.filterSubject] : list;
      // A part's outputs read back by the topology are listed once, as that part's outputs.
      if (read.every((s) => emitted.includes(s))) continue;
      for (const subject of read) {
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
          guarantee: 'at-least-once',
          because: n.ordered === true ? ORDERED_READ : 'acknowledged only after every effect it caused is complete; see the paths for end-to-end guarantees',
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
            ...(n.durable === true ? [sinkMsgIdHeader(name, n.name ?? '?')] : []),
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
        subjects.push(deadLetterContractSubject(name, n.deadLetterSubject, `${n.kind} ${n.name ?? '?'}`));
      }
    }
  }
  subjects.push(deadLetterContractSubject(name, deadLetterSubject(name), 'runtime'));
  subjects.push(replayMarkerContractSubject(name));
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
    guarantee: catchUp === 'skip' ? 'at-most-once' : 'at-least-once',
    because:
      catchUp === 'all'
        ? 'its state (LMDB) moves past a run only once the run is done: every fire time is run, again after a crash; exactly once into a durable sink (same id)'
        : catchUp === 'once'
          ? 'its state (LMDB) moves past a run only once the run is done: after a restart the runs missed are run once, as the latest of them, and a run cut by a crash is run again'
          : 'runs missed while down are skipped',
    description: `calendar source, ${when}; id \`schedule:<name>:<scheduledAt>\`, data \`{ name, scheduledAt, firedAt, catchUp, runs }\`; in-process only (not on the wire)`,
  };
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
