import { msgpackCodec } from '../codec/msgpack-codec.js';
import { REPLY_TO_HEADER } from '../actors/run-behaviour.js';
import { HEADERS } from '../envelope/envelope.js';
import type { JsonSchema } from '../schema/payload-schema.js';
import { subjectMatches } from '../transport/subject.js';
import { CONTRACT_HEADERS } from './contract-headers.js';
import type { ContractSubject } from './contract-subject.js';
import { splitSubjects } from './split-subjects.js';
import type { WiringNode } from './types.js';

// The contract entries of a part with its own exactly-once engine (an actor, a durable batch or
// window): the inputs it reads from its stream, its own subjects (an actor's tell and reset, the
// internal hand-over), its outputs with their deterministic ids, its state query and its replies.

const EXACTLY_ONCE = 'state, outputs (outbox) and input position commit in one LMDB transaction; outputs carry deterministic ids';

/** The subjects of an actor or durable batch: its inputs, own stream, outputs, queries. */
export function partSubjectsOf(topology: string, n: WiringNode): ContractSubject[] {
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
      headers: [CONTRACT_HEADERS.contentTypeIn, CONTRACT_HEADERS.msgIdIn, CONTRACT_HEADERS.eventTimeIn, CONTRACT_HEADERS.otherIn],
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
          CONTRACT_HEADERS.contentTypeIn,
          CONTRACT_HEADERS.msgIdIn,
          { name: REPLY_TO_HEADER, presence: 'optional', description: "inbox for the behaviour's ctx.reply (askActor)" },
          CONTRACT_HEADERS.otherIn,
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
        headers: [CONTRACT_HEADERS.contentTypeIn, CONTRACT_HEADERS.msgIdIn],
        guarantee: 'exactly-once',
        because: EXACTLY_ONCE,
        description: 'un-stops a key stopped by supervision (resetActorKey)',
      });
    } else {
      out.push({
        ...own,
        subject,
        direction: 'internal',
        headers: [
          CONTRACT_HEADERS.contentTypeIn,
          CONTRACT_HEADERS.msgIdIn,
          { name: HEADERS.originSubject, presence: 'sometimes', description: 'the subject the input first arrived on' },
        ],
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
