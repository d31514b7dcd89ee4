import type { NatsConnection } from '@nats-io/nats-core';
import { Svcm, type ServiceMsg } from '@nats-io/services';
import { firstValueFrom, take, timeout, toArray } from 'rxjs';
import { ensureError } from '../errors.js';
import type { Transport } from '../transport/transport.js';
import { decodeDeadLetter, deadLetterStreamName, deadLetterSubject } from './dead-letter.js';
import { replayDeadLetters } from './replay-dead-letters.js';
import type { RuntimeStats } from './runtime-stats.js';
import type { WiringNode } from './types.js';

/** Version reported by the service (`nats micro info`). */
export const SERVICE_VERSION = '0.1.0';

/** Options for {@link serveTopologyService}. */
export interface TopologyServiceOptions {
  nc: NatsConnection;
  transport: Transport;
  topology: string;
  stats: RuntimeStats;
  nodes: readonly WiringNode[];
  /** Whether dead letters are kept in `SLUICE_DLQ_<topology>` (the listing endpoint reads it). */
  deadLetterStream: boolean;
  /** Epoch ms clock. */
  now: () => number;
}

/** The subject of a topology service endpoint: `sluice.svc.<topology>.<endpoint>`. */
export const serviceSubject = (topology: string, endpoint: 'stats' | 'describe' | 'dead-letters' | 'replay'): string => `sluice.svc.${topology}.${endpoint}`;

const MAX_LISTED = 100;

/**
 * Registers the topology as a NATS micro service `sluice-<topology>` (visible to `nats micro ls`,
 * `info`, `stats`, `ping`), answering JSON on:
 * - `sluice.svc.<topology>.stats` → `{ received, published, deadLetters, uptimeMs }`;
 * - `sluice.svc.<topology>.describe` → `{ nodes, deadLetterSubject }`;
 * - `sluice.svc.<topology>.dead-letters` (body `{"limit": n}`, default 20, at most 100) →
 *   `{ stream, messages, firstSeq, lastSeq, recent: [{ seq, subject, operator, error, failedAt }] }`;
 * - `sluice.svc.<topology>.replay` (body `{"fromSeq": n, "limit": n, "subject": s}`, all optional)
 *   → `{ replayed, skipped, nextSeq }`: see `replayDeadLetters`.
 * Instances share a queue group, so one of them answers each request.
 */
export async function serveTopologyService(options: TopologyServiceOptions): Promise<{ stop(): Promise<void> }> {
  const { nc, topology, stats } = options;
  const startedAt = options.now();
  const service = await new Svcm(nc).add({
    name: `sluice-${topology}`,
    version: SERVICE_VERSION,
    description: `Sluice topology ${topology}`,
    metadata: { topology, deadLetters: deadLetterSubject(topology) },
    statsHandler: () => Promise.resolve(stats.snapshot()),
  });
  const json = (msg: ServiceMsg, body: unknown) => msg.respond(JSON.stringify(body));
  const answer = (work: (msg: ServiceMsg) => Promise<unknown> | unknown) => (err: Error | null, msg: ServiceMsg) => {
    if (err !== null) return;
    void (async () => {
      try {
        json(msg, await work(msg));
      } catch (e) {
        const error = ensureError(e);
        msg.respondError(error instanceof BadRequestError || error.name === 'InvalidConfigError' ? 400 : 500, error.message);
      }
    })();
  };

  service.addEndpoint('stats', {
    subject: serviceSubject(topology, 'stats'),
    handler: answer(() => ({ ...stats.snapshot(), uptimeMs: options.now() - startedAt })),
  });
  service.addEndpoint('describe', {
    subject: serviceSubject(topology, 'describe'),
    handler: answer(() => ({ nodes: options.nodes, deadLetterSubject: deadLetterSubject(topology) })),
  });
  service.addEndpoint('dead-letters', {
    subject: serviceSubject(topology, 'dead-letters'),
    handler: answer(async (msg) => {
      if (!options.deadLetterStream) return { stream: null, messages: null, recent: [] };
      const limit = Math.min(MAX_LISTED, Math.max(1, limitOf(msg.data) ?? 20));
      const stream = deadLetterStreamName(topology);
      const state = await options.transport.streamState(stream);
      if (state.messages === 0) return { stream, ...state, recent: [] };
      const count = Math.min(limit, state.messages);
      const messages = await firstValueFrom(
        options.transport.consume({ stream, startSeq: Math.max(state.firstSeq, state.lastSeq - count + 1), maxInFlight: count }).pipe(take(count), timeout(5_000), toArray()),
      );
      const recent = messages.map((m) => {
        const r = decodeDeadLetter(m.data);
        return { seq: m.seq, subject: r.subject, operator: r.operator, error: r.error, failedAt: r.failedAt, streamSeq: r.seq };
      });
      return { stream, ...state, recent };
    }),
  });
  service.addEndpoint('replay', {
    subject: serviceSubject(topology, 'replay'),
    handler: answer((msg) => {
      if (!options.deadLetterStream) throw new Error('dead letters are not kept in a stream here: nothing to replay');
      const body = jsonBody(msg.data);
      return replayDeadLetters(options.transport, topology, {
        fromSeq: typeof body.fromSeq === 'number' ? body.fromSeq : undefined,
        limit: typeof body.limit === 'number' ? body.limit : undefined,
        subject: typeof body.subject === 'string' ? body.subject : undefined,
      });
    }),
  });
  return {
    stop: async () => {
      await service.stop();
    },
  };
}

function limitOf(data: Uint8Array): number | undefined {
  const { limit } = jsonBody(data);
  return typeof limit === 'number' && Number.isFinite(limit) ? Math.floor(limit) : undefined;
}

/** A request the service cannot act on; answered with code 400. */
class BadRequestError extends Error {
  override readonly name = 'BadRequestError';
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
