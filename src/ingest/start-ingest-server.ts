import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logger.js';
import { HEADERS } from '../envelope/envelope.js';
import { InvalidConfigError, ensureError } from '../errors.js';
import type { Transport } from '../transport/transport.js';
import { mediaTypeOf, validateIngestRoutes, type IngestRoute } from './ingest-route.js';
import { readBody } from './read-body.js';
import { WebhookRejectedError, type WebhookRejectionCode } from './webhook-rejected-error.js';

/** Options for {@link startIngestServer}. */
export interface IngestServerOptions {
  transport: Transport;
  routes: readonly IngestRoute[];
  logger: Logger;
  /** Default 8080; 0 picks a free port. */
  port?: number | undefined;
  /** Default `0.0.0.0`. */
  host?: string | undefined;
  /** Largest body accepted, bytes. Default: the server's max_payload less 4 KiB for headers; never more. */
  maxBodyBytes?: number | undefined;
  /** How long to wait for the stream's ack before answering 503, ms. Default 5000. */
  publishTimeoutMs?: number | undefined;
  /** `Retry-After` of a 503, seconds. Default 5. */
  retryAfterSec?: number | undefined;
  /** Requests being read or published at once, at most; more get 503. Default 256. */
  maxInFlight?: number | undefined;
  /** Clock for timestamp checks. Default `Date.now`. */
  now?: (() => number) | undefined;
}

/** Counts since start. */
export interface IngestStats {
  /** Events the stream acknowledged as new. */
  recorded: number;
  /** Deliveries the stream already held (a retried or replayed id): answered 200, stored once. */
  duplicates: number;
  /** Refused requests by reason. */
  rejected: Partial<Record<WebhookRejectionCode, number>>;
  /** Requests being read, verified or published now. */
  inProgress: number;
}

/** A running webhook ingress. */
export interface IngestServer {
  /** `http://host:port`. */
  readonly url: string;
  readonly port: number;
  stats(): IngestStats;
  /**
   * Stops accepting connections and waits up to `drainTimeoutMs` (default 5000) for requests
   * already being published to be answered; then closes every connection. Idempotent.
   */
  close(drainTimeoutMs?: number): Promise<void>;
}

/** Room left in a NATS message for the headers the ingress adds. */
const HEADER_ROOM_BYTES = 4096;

/**
 * An HTTP server that records signed webhooks in JetStream. For each POST to a route's path it
 * checks the content type and size, reads the body (bounded), verifies the signature, then
 * publishes the exact body bytes to the route's subject with the delivery id as `Nats-Msg-Id`
 * and answers 200 only after the stream's ack — so a sender that got a 2xx knows the event is
 * stored, and one that retries (same id) inside the stream's duplicate window is stored once.
 * When the publish fails or times out (NATS down, no stream) it answers 503 with `Retry-After`;
 * the event may still be stored once the connection returns, and the sender's retry is then a
 * duplicate. Refusals are 4xx with a JSON `{ error, code }` body; they are logged with the path,
 * code and delivery id, never with a secret or a signature.
 *
 * Published headers: `Content-Type` (the request's), `Nats-Msg-Id` and `Webhook-Id` (the
 * delivery id), `Sluice-Event-Time` (the signed timestamp, else the receive time, epoch ms).
 *
 * @throws InvalidConfigError for bad routes or a body limit above what the server accepts.
 */
export async function startIngestServer(options: IngestServerOptions): Promise<IngestServer> {
  const { transport, logger } = options;
  validateIngestRoutes(options.routes);
  const ceiling = transport.maxPayloadBytes - HEADER_ROOM_BYTES;
  const maxBodyBytes = options.maxBodyBytes ?? Math.min(ceiling, 1024 * 1024);
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1 || maxBodyBytes > ceiling) {
    throw new InvalidConfigError(
      'ingest',
      'maxBodyBytes',
      `must be an integer from 1 to ${ceiling} (the server's max_payload ${transport.maxPayloadBytes} less ${HEADER_ROOM_BYTES} for headers), got ${maxBodyBytes}`,
    );
  }
  const publishTimeoutMs = options.publishTimeoutMs ?? 5000;
  const retryAfter = String(options.retryAfterSec ?? 5);
  const maxInFlight = options.maxInFlight ?? 256;
  const now = options.now ?? Date.now;
  const routes = new Map(options.routes.map((r) => [r.path, { ...r, accepts: new Set((r.contentTypes ?? ['application/json']).map(mediaTypeOf)) }]));
  const stats: Omit<IngestStats, 'inProgress'> = { recorded: 0, duplicates: 0, rejected: {} };
  const inFlight = new Set<Promise<void>>();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = pathOf(req.url);
    let id: string | undefined;
    try {
      const route = routes.get(path);
      if (route === undefined) throw new WebhookRejectedError(404, 'not-found', `no webhook route at '${path.slice(0, 200)}'`);
      if (req.method !== 'POST') throw new WebhookRejectedError(405, 'method-not-allowed', `use POST, not ${req.method ?? '?'}`, { Allow: 'POST' });
      const contentType = req.headers['content-type'];
      if (!route.accepts.has(mediaTypeOf(contentType))) {
        throw new WebhookRejectedError(
          415,
          'unsupported-media-type',
          `Content-Type '${(contentType ?? '').slice(0, 100)}' is not accepted here; send ${[...route.accepts].join(' or ')}`,
        );
      }
      if (inFlight.size >= maxInFlight) {
        throw new WebhookRejectedError(503, 'busy', `more than ${maxInFlight} requests in progress; retry later`, { 'Retry-After': retryAfter });
      }
      const body = await readBody(req, maxBodyBytes);
      const verified = route.verifier.verify(req.headers, body, now());
      id = verified.id;
      if (mediaTypeOf(contentType).endsWith('json') && !isJson(body)) {
        throw new WebhookRejectedError(400, 'invalid-json', 'the body is not valid JSON');
      }
      const headers: Record<string, string> = {
        [HEADERS.contentType]: contentType!,
        'Webhook-Id': verified.id,
        [HEADERS.eventTime]: String(verified.timestampMs ?? now()),
      };
      let ack;
      try {
        ack = await transport.publishDurable(route.subject, body, { msgId: verified.id, headers, timeoutMs: publishTimeoutMs });
      } catch (err) {
        logger.error({ err: ensureError(err), path, subject: route.subject, id }, 'webhook not recorded: the publish failed; answering 503');
        throw new WebhookRejectedError(503, 'unavailable', 'the event could not be recorded now; retry later', { 'Retry-After': retryAfter });
      }
      if (ack.duplicate) stats.duplicates += 1;
      else stats.recorded += 1;
      logger.debug({ path, subject: route.subject, id, stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate }, 'webhook recorded');
      send(res, 200, { id: verified.id, duplicate: ack.duplicate });
    } catch (thrown) {
      if (!(thrown instanceof WebhookRejectedError)) {
        logger.error({ err: ensureError(thrown), path, id }, 'webhook request failed');
        if (!res.headersSent) send(res, 500, { error: 'internal error', code: 'internal' }, { Connection: 'close' });
        return;
      }
      stats.rejected[thrown.code] = (stats.rejected[thrown.code] ?? 0) + 1;
      if (thrown.status !== 503)
        logger.warn({ path, status: thrown.status, code: thrown.code, id, remote: req.socket.remoteAddress, reason: thrown.message }, 'webhook refused');
      send(res, thrown.status, { error: thrown.message, code: thrown.code }, thrown.headers);
      // The rest of a refused body is read and dropped (memory stays flat; requestTimeout bounds
      // how long): closing with bytes unread would reset the connection, and the sender could
      // lose the answer it is owed.
      if (!req.complete) req.resume();
    }
  };

  const server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) => {
    const work = handle(req, res);
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`,
    port: address.port,
    stats: () => ({ ...stats, rejected: { ...stats.rejected }, inProgress: inFlight.size }),
    close(drainTimeoutMs = 5000) {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([Promise.allSettled([...inFlight]), new Promise((r) => (timer = setTimeout(r, drainTimeoutMs)))]);
        clearTimeout(timer);
        server.closeAllConnections();
        await closed;
      })();
      return closing;
    },
  };
}

function pathOf(url: string | undefined): string {
  const raw = url ?? '/';
  const q = raw.indexOf('?');
  return q < 0 ? raw : raw.slice(0, q);
}

function isJson(body: Buffer): boolean {
  try {
    JSON.parse(body.toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
