import { InvalidConfigError } from '../errors.js';
import type { StreamConfig } from '../transport/transport.js';

// Topology and part names are subject tokens: no dots, spaces or wildcards.
const TOKEN = /^[A-Za-z0-9_$-]+$/;

/**
 * The one dead-letter subject scheme: `sluice.dlq.<topology>` for what the topology's pipelines,
 * operators, sinks and stream sources give up on; `sluice.dlq.<topology>.<part>` for a part with
 * its own exactly-once engine (an actor, a durable batch: `part` is its name). Every subject
 * carries the same record and is kept in the one stream {@link deadLetterStreamName}.
 *
 * @throws InvalidConfigError when `topology` or `part` is not a single subject token.
 */
export function deadLetterSubject(topology: string, part?: string): string {
  if (!TOKEN.test(topology)) throw new InvalidConfigError('deadLetterSubject', 'topology', `must be one subject token, got ${JSON.stringify(topology)}`);
  if (part === undefined) return `sluice.dlq.${topology}`;
  if (!TOKEN.test(part)) throw new InvalidConfigError('deadLetterSubject', 'part', `must be one subject token, got ${JSON.stringify(part)}`);
  return `sluice.dlq.${topology}.${part}`;
}

/**
 * The part name replay markers use (`sluice.dlq.<topology>.$replayed`): `$` is not allowed in
 * actor or batch names, so it cannot collide with a part.
 */
export const REPLAYED_PART = '$replayed';

/** `SLUICE_DLQ_<topology>`: the one stream that keeps a topology's dead letters for listing and replay. */
export function deadLetterStreamName(topology: string): string {
  return `SLUICE_DLQ_${topology}`;
}

// Kept for replay but bounded, so a flood of bad input cannot fill the server (or, on the
// in-process transport, the heap): the oldest go first.
const DLQ_LIMITS = { maxAgeMs: 7 * 24 * 3600 * 1000, maxMessages: 100_000, maxBytes: 256 * 1024 * 1024 } as const;

/**
 * The dead-letter stream of a topology: `SLUICE_DLQ_<topology>` capturing `sluice.dlq.<topology>`
 * and `sluice.dlq.<topology>.>`; 7 days, at most 100,000 messages / 256 MiB, oldest dropped first.
 */
export function deadLetterStreamConfig(topology: string): StreamConfig {
  const subject = deadLetterSubject(topology);
  return { name: deadLetterStreamName(topology), subjects: [subject, `${subject}.>`], ...DLQ_LIMITS };
}
