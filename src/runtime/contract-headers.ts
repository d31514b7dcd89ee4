import { jsonCodec } from '../codec/json-codec.js';
import { msgpackCodec } from '../codec/msgpack-codec.js';
import { REPLAY_HEADERS } from '../dead-letter/dead-letter-record.js';
import { HEADERS } from '../envelope/envelope.js';
import type { ContractHeader } from './contract-subject.js';

// The headers a topology's contract lists on its sources, streams and sinks: what a publisher may
// set on an input (replay markers included) and what Sluice writes on an output. Fixed text, the
// same for every topology, apart from a durable sink's message id, which names the topology and sink.

/** The contract's header entries, by role: `...In` for what a publisher sets, `...Out` for what Sluice writes. */
export const CONTRACT_HEADERS = {
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

/** The `Nats-Msg-Id` a durable sink writes: deterministic per input, so a re-publish is dropped. */
export const sinkMsgIdHeader = (topology: string, sink: string): ContractHeader => ({
  name: HEADERS.msgId,
  presence: 'sometimes',
  description: `\`${topology}.${sink}.<stream>:<seq>.<n>\`: the n-th output of input <stream>:<seq>, when that input came from a durable stream read; the same on every redelivery, so JetStream drops the re-publish`,
});
