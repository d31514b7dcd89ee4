import { Command, InvalidArgumentError, Option } from 'commander';
import type { Logger } from 'pino';
import { ensureError, InvalidConfigError } from '../errors.js';
import { ensureIngestStream } from '../ingest/ensure-ingest-stream.js';
import { hmacSha256Verifier } from '../ingest/hmac-sha256-verifier.js';
import type { IngestRoute } from '../ingest/ingest-route.js';
import { standardWebhooksVerifier } from '../ingest/standard-webhooks-verifier.js';
import { startIngestServer } from '../ingest/start-ingest-server.js';
import { connect, type Connection } from '../runtime/connect.js';
import { createCliLogger, LOG_FORMATS, LOG_LEVELS, type LogFormat } from './create-cli-logger.js';
import { EXIT } from './exit-codes.js';
import { natsOptionsFromFlags, type NatsFlags } from './nats-options-from-flags.js';
import { parseRouteFlag, SCHEME_NAMES, type RouteFlag, type SchemeName } from './parse-route-flag.js';

/** The environment variable holding the default webhook secret(s), space-separated. */
export const WEBHOOK_SECRET_ENV = 'SLUICE_WEBHOOK_SECRET';

interface IngestFlags extends NatsFlags {
  route: string[];
  port: number;
  host: string;
  stream: string;
  scheme: SchemeName;
  secret?: string | undefined;
  contentType: string;
  toleranceSec: number;
  maxBodyBytes?: number | undefined;
  publishTimeoutMs: number;
  retryAfterSec: number;
  duplicateWindowMs: number;
  drainTimeoutMs: number;
  logLevel: string;
  logFormat?: LogFormat | undefined;
}

/**
 * `sluice ingest http`: records signed webhooks in JetStream until SIGINT/SIGTERM (see
 * docs/ingest.md). `done` gets the exit code ({@link EXIT}): 0 after a signal, 1 when it could
 * not start or the NATS connection closed for good, 2 without a route or a server.
 */
export function ingestCommand(done: (code: number) => void, env: NodeJS.ProcessEnv = process.env): Command {
  // Built apart from the program, so it does not inherit the program's settings: usage errors
  // must still throw (exit code 2 in main), not exit the process.
  const ingest = new Command('ingest').description('Bring outside events into JetStream.').exitOverride().showHelpAfterError();
  ingest
    .command('http')
    .description('Serve webhook endpoints: verify each POST, publish it to JetStream with its delivery id as Nats-Msg-Id, answer 200 after the ack.')
    .requiredOption(
      '--route <path=subject[;key=value...]>',
      'a webhook endpoint, repeatable; keys: scheme, secret-env, signature-header, id-header, content-type',
      collect,
    )
    .option('--nats <url>', 'NATS server URL(s), comma-separated [env NATS_URL]; required')
    .option('--creds <file>', 'credentials file (JWT + nkey seed) [env NATS_CREDS]')
    .option('--nkey <file>', 'nkey seed file [env NATS_NKEY]')
    .option('--token <token>', 'auth token [env NATS_TOKEN; prefer it]')
    .option('--user <user>', 'user name [env NATS_USER]')
    .option('--password <password>', 'password [env NATS_PASSWORD; prefer it]')
    .option('--tls-ca <file>', 'CA certificate to trust [env NATS_CA]')
    .option('--tls-cert <file>', 'client certificate [env NATS_CERT]')
    .option('--tls-key <file>', 'client key [env NATS_KEY]')
    .option('--port <n>', 'HTTP port (0: a free one)', integer, 8080)
    .option('--host <address>', 'address to listen on', '0.0.0.0')
    .option('--stream <name>', 'stream created for route subjects no stream captures yet', 'WEBHOOKS')
    .addOption(new Option('--scheme <scheme>', 'signature scheme of routes that do not name one').choices(SCHEME_NAMES).default('standard-webhooks'))
    .option('--secret <secret>', `webhook secret(s), space-separated [env ${WEBHOOK_SECRET_ENV}; prefer it: command lines are visible to other users]`)
    .option('--content-type <types>', 'accepted content types, comma-separated, for routes that do not name them', 'application/json')
    .option('--tolerance-sec <n>', 'standard-webhooks: how far webhook-timestamp may be from now, s', positive, 300)
    .option('--max-body-bytes <n>', "largest body accepted (default: 1 MiB or the server's max_payload less 4 KiB, whichever is less)", integer)
    .option('--publish-timeout-ms <n>', 'wait this long for the stream ack, then answer 503', positive, 5000)
    .option('--retry-after-sec <n>', 'Retry-After of a 503', integer, 5)
    .option('--duplicate-window-ms <n>', 'duplicate window of a stream this command creates or extends', positive, 3_600_000)
    .option('--drain-timeout-ms <n>', 'on SIGTERM, how long requests in progress may take to finish', integer, 5000)
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default(env.SLUICE_LOG_LEVEL ?? 'info'))
    .addOption(new Option('--log-format <format>', 'log format (default: pretty on a terminal, else json)').choices(LOG_FORMATS))
    .action(async (flags: IngestFlags) => {
      done(await serve(flags, env));
    });
  return ingest;
}

async function serve(flags: IngestFlags, env: NodeJS.ProcessEnv): Promise<number> {
  const logger = await createCliLogger({ level: flags.logLevel, format: flags.logFormat });
  let connection: Connection | undefined;
  const stop = stopSignal(logger);
  try {
    const routes = flags.route.map((spec) => toRoute(parseRouteFlag(spec), flags, env));
    const nats = natsOptionsFromFlags(flags, env);
    if (nats === undefined) {
      // Usage, as for `sluice dlq`: no server to record on was given.
      logger.fatal(
        {
          err: new InvalidConfigError('sluice ingest http', '--nats', 'is required (or NATS_URL): webhooks are recorded on a NATS server other services read'),
        },
        'sluice ingest: could not start',
      );
      return EXIT.usage;
    }
    connection = await connect({ nats, logger, env });
    const transport = connection.transport;
    const needsWindow = routes.some((r) => r.verifier.scheme === 'standard-webhooks');
    await ensureIngestStream(transport, {
      name: flags.stream,
      subjects: routes.map((r) => r.subject),
      duplicateWindowMs: flags.duplicateWindowMs,
      minDuplicateWindowMs: needsWindow ? 2 * flags.toleranceSec * 1000 : 0,
      logger,
    });
    const server = await startIngestServer({
      transport,
      logger,
      routes,
      port: flags.port,
      host: flags.host,
      maxBodyBytes: flags.maxBodyBytes,
      publishTimeoutMs: flags.publishTimeoutMs,
      retryAfterSec: flags.retryAfterSec,
    });
    logger.info(
      { url: server.url, routes: routes.map((r) => ({ path: r.path, subject: r.subject, scheme: r.verifier.scheme })) },
      `sluice ingest: listening on ${flags.host}:${server.port} (${routes.map((r) => `${r.path} -> ${r.subject}`).join(', ')}) on ${connection.description}`,
    );
    const lost = transport.closed().then((err) => ({ lost: err ?? new Error('the connection closed') }));
    const outcome = await Promise.race([stop.signalled.then(() => undefined), lost]);
    await server.close(flags.drainTimeoutMs);
    const stats = server.stats();
    if (outcome !== undefined) {
      logger.fatal({ err: outcome.lost, ...stats }, 'sluice ingest: the NATS connection is gone for good; stopped');
      return EXIT.failed;
    }
    logger.info(stats, `sluice ingest: stopped (${stats.recorded} recorded, ${stats.duplicates} duplicates)`);
    return EXIT.ok;
  } catch (err) {
    logger.fatal({ err: ensureError(err) }, 'sluice ingest: could not start');
    return EXIT.failed;
  } finally {
    await connection?.dispose().catch((err: unknown) => logger.error({ err: ensureError(err) }, 'closing the connection failed'));
    stop.dispose();
  }
}

function toRoute(flag: RouteFlag, flags: IngestFlags, env: NodeJS.ProcessEnv): IngestRoute {
  const scheme = flag.scheme ?? flags.scheme;
  const source = flag.secretEnv ?? (flags.secret !== undefined ? '--secret' : WEBHOOK_SECRET_ENV);
  const raw = flag.secretEnv !== undefined ? env[flag.secretEnv] : (flags.secret ?? env[WEBHOOK_SECRET_ENV]);
  const secrets = (raw ?? '').split(/\s+/).filter((s) => s !== '');
  if (secrets.length === 0) {
    throw new InvalidConfigError(
      'sluice ingest http',
      'secret',
      `of route '${flag.path}' is missing: set ${source === '--secret' ? WEBHOOK_SECRET_ENV : source} (or --secret, or secret-env=NAME in the route)`,
    );
  }
  const verifier =
    scheme === 'standard-webhooks'
      ? standardWebhooksVerifier({ secrets, toleranceSec: flags.toleranceSec })
      : hmacSha256Verifier({ secrets, signatureHeader: flag.signatureHeader, idHeader: flag.idHeader });
  const contentTypes =
    flag.contentTypes ??
    flags.contentType
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  return { path: flag.path, subject: flag.subject, verifier, contentTypes };
}

/** The first SIGINT/SIGTERM stops serving (drain); a second exits at once. */
function stopSignal(logger: Logger): { signalled: Promise<void>; dispose(): void } {
  let resolve!: () => void;
  const signalled = new Promise<void>((r) => (resolve = r));
  let count = 0;
  const handler = (signal: NodeJS.Signals) => {
    count += 1;
    if (count > 1) process.exit(EXIT.interrupted);
    logger.info({ signal }, 'signal received: finishing requests in progress');
    resolve();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return { signalled, dispose: () => (process.off('SIGINT', handler), process.off('SIGTERM', handler)) };
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function integer(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected an integer >= 0, got '${value}'`);
  return n;
}

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a number > 0, got '${value}'`);
  return n;
}
