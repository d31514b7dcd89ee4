import { msgpackCodec } from '../codec/msgpack-codec.js';
import { deadLetterJsonSchema, replayMarkerJsonSchema } from '../dead-letter/dead-letter-json-schema.js';
import { deadLetterStreamConfig, deadLetterStreamName, deadLetterSubject, REPLAYED_PART } from '../dead-letter/dead-letter-subject.js';
import { DEAD_LETTER_HEADERS } from '../dead-letter/encode-dead-letter.js';
import { HEADERS } from '../envelope/envelope.js';
import { subjectMatches } from '../transport/subject.js';
import type { ContractHeader, ContractSubject } from './contract-subject.js';

// The dead-letter side of a topology's contract: a dead-letter subject's entry (the record's
// headers and payload schema, the same for the runtime's subject and a part's own) and the
// entry of the replay markers replayDeadLetters writes. Fixed apart from the names in the subjects.

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

/** The entry of a dead-letter subject of topology `topology`, written by `part` (`runtime` or `<kind> <name>`). */
export function deadLetterContractSubject(topology: string, subject: string, part: string): ContractSubject {
  return {
    subject,
    direction: 'dead-letter',
    part,
    transport: 'jetstream',
    // A durable batch may send its dead letters to a subject of its own choosing, outside the stream.
    stream: deadLetterStreamConfig(topology).subjects.some((p) => subjectMatches(p, subject)) ? deadLetterStreamName(topology) : undefined,
    payload: deadLetterJsonSchema(),
    contentType: msgpackCodec.contentType,
    headers: DEAD_LETTER_OUT,
    description: 'what the topology gave up on, with the original bytes and the reason; replay publishes `payload` with `headers` on `subject`',
  };
}

/** The entry of the replay markers (`sluice.dlq.<topology>.$replayed`) in the dead-letter stream. */
export function replayMarkerContractSubject(topology: string): ContractSubject {
  return {
    subject: deadLetterSubject(topology, REPLAYED_PART),
    direction: 'dead-letter',
    part: 'runtime',
    transport: 'jetstream',
    stream: deadLetterStreamName(topology),
    payload: replayMarkerJsonSchema(),
    contentType: msgpackCodec.contentType,
    headers: [
      { name: HEADERS.contentType, presence: 'always', description: msgpackCodec.contentType },
      { name: HEADERS.msgId, presence: 'always', description: '`sluice-replayed:<dead-letter stream>:<seq>`' },
    ],
    description: 'replay markers: a record was replayed (written by replayDeadLetters; docs/dead-letters.md)',
  };
}
