import { ControlNotAllowedError, ensureError } from '../errors.js';
import { serveMicroService } from '../transport/nats/serve-micro-service.js';
import type { Transport } from '../transport/transport.js';
import { deadLetterStreamName, deadLetterSubject } from '../dead-letter/dead-letter-subject.js';
import { readDeadLetters, type DeadLetterEntry, type DeadLetterFilter, type DeadLetterStatus } from '../dead-letter/read-dead-letters.js';
import { replayDeadLetters } from './replay-dead-letters.js';
import type { RuntimeStats } from '../observe/runtime-stats.js';
import { contractOf } from './topology-contract.js';
import { serviceSubject } from './service-subject.js';
import { TopologyStatsCollector } from './topology-stats.js';
import type { WiringNode } from './types.js';

/** Version reported by the service (`nats micro info`). */
export const SERVICE_VERSION = '0.1.0';

/** Options for {@link serveTopologyService}. */
export interface TopologyServiceOptions {
  transport: Transport;
  topology: string;
  stats: RuntimeStats;
  nodes: readonly WiringNode[];
  /** Whether dead letters are kept in `SLUICE_DLQ_<topology>` (the listing endpoint reads it). */
  deadLetterStream: boolean;
  /** Answer `replay` (it changes things). Default false: it answers 403. */
  allowControl?: boolean | undefined;
  /** Epoch ms clock. */
  now: () => number;
}

export { serviceSubject } from './service-subject.js';

const MAX_LISTED = 100;

/**
 * Registers the topology as a NATS micro service `sluice-<topology>` (visible to `nats micro ls`,
 * `info`, `stats`, `ping`), answering JSON on:
 * - `sluice.svc.<topology>.stats` → a `TopologyStats`: `{ received, published, deadLetters,
 *   unsettled, unsettledOutputs, connection, uptimeMs, topology, health, problems, totals, parts }`,
 *   every part (pipelines, sources, streams, sinks, operators, actors, durable batches) in one
 *   shape; also the `data` of the `stats` endpoint in `$SRV.STATS` (docs/operations.md);
 * - `sluice.svc.<topology>.describe` → the topology's contract (`TopologyContract`, as
 *   `sluice describe --json` prints it: every subject with direction, stream, payload JSON
 *   Schema, headers and guarantee; see docs/describe.md);
 * - `sluice.svc.<topology>.dead-letters` (body `{"limit", "fromSeq", "subject", "reason",
 *   "sinceMs", "untilMs", "status"}`, all optional; limit default 20, at most 100; without
 *   fromSeq the newest matches) → `{ stream, messages, firstSeq, lastSeq, matched, counts, nextSeq,
 *   entries: [{ seq, status, subject, operator, error, failedAt, ... }] }` (`recent`: the same);
 * - `sluice.svc.<topology>.dead-letter` (body `{"seq": n}`) → one entry with its whole record
 *   (payload base64), 404 when there is none;
 * - `sluice.svc.<topology>.replay` (body: the listing filters plus `"includeParked"`) → see
 *   `replayDeadLetters`. It changes things, so it answers 403 unless `allowControl`; give its
 *   subject only to operators' NATS users (README, security).
 * Errors answer with the service error headers (code 400, 403, 404 or 500, and the reason).
 * Instances share a queue group, so one of them answers each request. Resolves to undefined on
 * a transport without NATS micro services (the in-process one).
 */
export async function serveTopologyService(options: TopologyServiceOptions): Promise<{ stop(): Promise<void> } | undefined> {
  const { topology, stats } = options;
  const collector = new TopologyStatsCollector({ topology, stats, now: options.now }).start();
  const statsSubject = serviceSubject(topology, 'stats');
  let contract: ReturnType<typeof contractOf> | undefined;
  const service = await serveMicroService(options.transport, {
    name: `sluice-${topology}`,
    version: SERVICE_VERSION,
    description: `Sluice topology ${topology}`,
    metadata: { topology, deadLetters: deadLetterSubject(topology) },
    // `$SRV.STATS` asks once per endpoint: the full answer once, under the stats endpoint.
    statsOf: (subject) => (subject === statsSubject ? collector.collect() : Promise.resolve(null)),
    errorCode: codeOf,
    endpoints: [
      { name: 'stats', subject: statsSubject, answer: () => collector.collect() },
      {
        name: 'describe',
        subject: serviceSubject(topology, 'describe'),
        // Built once: the wiring does not change while the topology runs.
        answer: () => (contract ??= contractOf(topology, options.nodes, { service: true })),
      },
      {
        name: 'dead-letters',
        subject: serviceSubject(topology, 'dead-letters'),
        answer: async (data) => {
          if (!options.deadLetterStream) return { stream: null, messages: null, entries: [], recent: [] };
          const body = jsonBody(data);
          const page = await readDeadLetters(options.transport, topology, {
            ...filterOf(body),
            limit: Math.min(MAX_LISTED, Math.max(1, intOf(body, 'limit') ?? 20)),
            fromSeq: intOf(body, 'fromSeq'),
          });
          const entries = page.entries.map(summaryOf);
          return {
            stream: page.stream,
            messages: page.messages,
            firstSeq: page.firstSeq,
            lastSeq: page.lastSeq,
            matched: page.matched,
            counts: page.counts,
            nextSeq: page.nextSeq,
            entries,
            recent: entries,
          };
        },
      },
      {
        name: 'dead-letter',
        subject: serviceSubject(topology, 'dead-letter'),
        answer: async (data) => {
          if (!options.deadLetterStream) throw new NotFoundError('dead letters are not kept in a stream here');
          const seq = intOf(jsonBody(data), 'seq');
          if (seq === undefined || seq < 1) throw new BadRequestError("'seq' must be an integer >= 1");
          const entry = (await readDeadLetters(options.transport, topology, { seq, limit: 1 })).entries[0];
          if (entry === undefined) throw new NotFoundError(`no dead-letter record at seq ${seq} of ${deadLetterStreamName(topology)}`);
          const { payload, ...rest } = entry.record;
          return { ...summaryOf(entry), record: { ...rest, payload: Buffer.from(payload).toString('base64') }, replay: entry.replay };
        },
      },
      {
        name: 'replay',
        subject: serviceSubject(topology, 'replay'),
        answer: (data) => {
          if (!options.allowControl) throw new ControlNotAllowedError(topology, 'replay');
          if (!options.deadLetterStream) throw new NotFoundError('dead letters are not kept in a stream here: nothing to replay');
          const body = jsonBody(data);
          return replayDeadLetters(options.transport, topology, {
            ...filterOf(body),
            fromSeq: intOf(body, 'fromSeq'),
            limit: intOf(body, 'limit'),
            includeParked: body.includeParked === true,
            now: options.now,
          });
        },
      },
    ],
  });
  if (service === undefined) {
    collector.stop();
    return undefined;
  }
  return {
    stop: async () => {
      collector.stop();
      await service.stop();
    },
  };
}

function codeOf(error: Error): number {
  if (error instanceof ControlNotAllowedError) return 403;
  if (error instanceof NotFoundError) return 404;
  return error instanceof BadRequestError || error.name === 'InvalidConfigError' ? 400 : 500;
}

function intOf(body: Record<string, unknown>, field: string): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new BadRequestError(`'${field}' must be an integer, got ${JSON.stringify(v)}`);
  return v;
}

function stringOf(body: Record<string, unknown>, field: string): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new BadRequestError(`'${field}' must be a string, got ${JSON.stringify(v)}`);
  return v;
}

const STATUSES: readonly DeadLetterStatus[] = ['dead', 'parked', 'replayed'];

function filterOf(body: Record<string, unknown>): DeadLetterFilter {
  const status = body.status;
  if (status !== undefined && !(Array.isArray(status) && status.every((x) => STATUSES.includes(x as DeadLetterStatus)))) {
    throw new BadRequestError(`'status' must be a list of ${STATUSES.join(', ')}, got ${JSON.stringify(status)}`);
  }
  return {
    subject: stringOf(body, 'subject'),
    reason: stringOf(body, 'reason'),
    sinceMs: intOf(body, 'sinceMs'),
    untilMs: intOf(body, 'untilMs'),
    status: status as DeadLetterStatus[] | undefined,
  };
}

/** A listing line: the record without its bytes and headers. */
function summaryOf({ seq, status, record: r, replay }: DeadLetterEntry): Record<string, unknown> {
  return {
    seq,
    status,
    subject: r.subject,
    operator: r.operator,
    error: r.error,
    failedAt: r.failedAt,
    attempts: r.attempts,
    stream: r.stream,
    streamSeq: r.seq,
    key: r.key,
    bytes: r.payloadBytes ?? r.payload.length,
    truncated: r.payloadTruncated === true,
    replayOf: r.replayOf,
    replayAttempt: r.replayAttempt,
    replayedTo: replay?.to,
  };
}

/** A request the service cannot act on; answered with code 400. */
class BadRequestError extends Error {
  override readonly name = 'BadRequestError';
}

/** Nothing there; answered with code 404. */
class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}

/** A request body as a JSON object; an empty body means all defaults. A malformed one is refused, not guessed at. */
function jsonBody(data: Uint8Array): Record<string, unknown> {
  if (data.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(data));
  } catch (err) {
    throw new BadRequestError(`request body is not JSON: ${ensureError(err).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new BadRequestError('request body must be a JSON object');
  return parsed as Record<string, unknown>;
}
