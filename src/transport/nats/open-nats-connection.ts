import { errors as natsErrors, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { InvalidConfigError, TransportError } from '../../errors.js';
import { fromNatsError } from './from-nats-error.js';
import { redactUrl, type NatsConnectOptions } from './nats-connect-options.js';
import { probeNatsServer, type ProbeResult } from './probe-nats-server.js';
import { toNodeConnectionOptions } from './to-node-connection-options.js';

/** How long {@link openNatsConnection} waits by default, as the `nats` CLI does. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

/**
 * Opens a client connection (`noAsyncTraces: true`, reconnecting forever unless told otherwise)
 * and, when it cannot, says why in one line naming the server: refused credentials, an
 * untrusted certificate, a client certificate the server requires, nothing listening, no answer.
 *
 * The probes run beside the client's own attempt and speak only when every server failed for a
 * reason they can name, so a failure the client would sit out until its timeout (mTLS without a
 * certificate) is reported at once.
 *
 * @throws InvalidConfigError for bad options or unreadable files; TransportError otherwise (the
 * message never contains secrets).
 */
export async function openNatsConnection(options: NatsConnectOptions): Promise<NatsConnection> {
  const connectOptions = await toNodeConnectionOptions(options);
  const servers = (Array.isArray(options.servers) ? options.servers : [options.servers]).map(redactUrl);
  const label = `NatsTransport(${servers.join(', ')})`;
  const timeoutMs = connectOptions.timeout ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const probes = (connectOptions.servers as string[]).map((server) => probeNatsServer(server, options.tls, timeoutMs));
  const probeFailure = Promise.all(probes).then((results) => {
    const reasons = results.map((r) => (r.ok ? undefined : r.reason));
    return reasons.every((r) => r !== undefined) ? reasons : new Promise<never>(() => undefined);
  });
  const attempt = connect({ ...connectOptions, timeout: timeoutMs });
  const failed = (reason: string, cause?: unknown) => new TransportError(label, 'connect', reason, cause === undefined ? undefined : { cause });
  try {
    const first = await Promise.race([attempt.then((nc) => ({ nc })), probeFailure.then((reasons) => ({ reasons }))]);
    if ('nc' in first) return first.nc;
    // The client's attempt cannot be cancelled: close it if it ever succeeds.
    attempt.then(
      (nc) => void nc.close().catch(() => undefined),
      () => undefined,
    );
    throw failed(joinReasons(servers, first.reasons));
  } catch (err) {
    if (err instanceof TransportError || err instanceof InvalidConfigError) throw err;
    if (err instanceof natsErrors.TimeoutError) {
      const reasons = (await Promise.all(probes)).map((r) => (r.ok ? undefined : r.reason));
      const known = reasons.some((r) => r !== undefined)
        ? `: ${joinReasons(servers, reasons)}`
        : ': check the address, and whether the server requires TLS or a client certificate';
      throw failed(`no connection within ${timeoutMs} ms${known}`, err);
    }
    // The client can fail first (an untrusted certificate, say) with its own terse words: the
    // probes, a moment behind, say it with what to do. Refused credentials pass the probes.
    const reasons = await namedWithin(probes, PROBE_GRACE_MS);
    if (reasons !== undefined) throw failed(joinReasons(servers, reasons), err);
    throw fromNatsError(err, { transport: label, operation: 'connect' });
  }
}

const PROBE_GRACE_MS = 1_000;

/** Every probe's failure reason, when all of them failed within `ms`; else undefined. */
async function namedWithin(probes: ReadonlyArray<Promise<ProbeResult>>, ms: number): Promise<string[] | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const results = await Promise.race([Promise.all(probes), new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)))]);
  clearTimeout(timer);
  if (results === undefined || results.some((r) => r.ok)) return undefined;
  return results.map((r) => (r.ok ? '' : r.reason));
}

/** One reason, or one per server when they differ. */
function joinReasons(servers: readonly string[], reasons: ReadonlyArray<string | undefined>): string {
  const known = reasons
    .map((r, i) => ({ server: servers[i] ?? '?', reason: r }))
    .filter((r): r is { server: string; reason: string } => r.reason !== undefined);
  if (known.length === 1 || new Set(known.map((k) => k.reason)).size === 1) return known[0]!.reason;
  return known.map((k) => `${k.server}: ${k.reason}`).join('; ');
}
