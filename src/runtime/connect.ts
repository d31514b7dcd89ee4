import { rmSync } from 'node:fs';
import type { Logger } from '../logger.js';
import { TransportError } from '../errors.js';
import { LocalTransport } from '../transport/local/local-transport.js';
import { redactConnectOptions, type NatsConnectOptions, type NatsCredentials } from '../transport/nats/nats-connect-options.js';
import { NatsTransport } from '../transport/nats/nats-transport.js';
import type { Transport } from '../transport/transport.js';
import { embeddedServerAuth } from './embedded-server-auth.js';
import { NatsServerNotFoundError, startNatsServer, type NatsServerHandle } from './nats-server-process.js';

/** Environment variables {@link connect} reads besides the `NATS_*` ones. */
export const CONNECT_ENV = {
  /** The nats-server binary for the embedded default. Default `nats-server` from PATH. */
  serverBin: 'SLUICE_NATS_SERVER_BIN',
  /** `1`: never fall back to the in-process transport; a missing nats-server is an error (CI). */
  requireNats: 'SLUICE_REQUIRE_NATS',
} as const;

/** Options for {@link connect}. */
export interface ConnectOptions {
  /** An explicit broker (from `--nats` / `NATS_URL` and the credential flags). Absent: embedded default. */
  nats?: NatsConnectOptions | undefined;
  /**
   * Credentials for the embedded default (used only when `nats` is absent): the private
   * nats-server is started requiring them and the client connects with them (see
   * `embeddedServerAuth`: a token, a user with a password, an nkey seed).
   */
  credentials?: NatsCredentials | undefined;
  logger: Logger;
  /** Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>> | undefined;
}

/** How {@link connect} got a transport. */
export type ConnectionMode = 'nats' | 'embedded' | 'local';

/** A transport plus what it is, and how to let go of it. */
export interface Connection {
  readonly transport: Transport;
  readonly mode: ConnectionMode;
  /** One line for logs and banners, without secrets. */
  readonly description: string;
  /** Closes the transport and stops and removes an embedded server; idempotent. */
  dispose(): Promise<void>;
}

/**
 * Picks the transport for `sluice run`:
 * 1. `nats` given → `NatsTransport` to that broker;
 * 2. otherwise a private `nats-server` (from `SLUICE_NATS_SERVER_BIN` or PATH) on a free port
 *    with JetStream in a temp dir, stopped and deleted on `dispose` or process exit; when
 *    `credentials` are given it requires them;
 * 3. no nats-server → the in-process `LocalTransport`, with one warning that durability is off —
 *    unless `SLUICE_REQUIRE_NATS=1`, which makes that an error.
 *
 * @throws TransportError when the broker cannot be reached or refuses the connection (one line
 * naming the server and the reason), or it had to fall back and may not; InvalidConfigError for
 * credentials the embedded server cannot honour.
 */
export async function connect(options: ConnectOptions): Promise<Connection> {
  const { logger } = options;
  const env = options.env ?? process.env;
  if (options.nats !== undefined) {
    const safe = redactConnectOptions(options.nats);
    logger.debug({ nats: safe }, 'connecting');
    const transport = await NatsTransport.connect(options.nats);
    const servers = Array.isArray(safe.servers) ? safe.servers.join(',') : safe.servers;
    return connection(transport, 'nats', `nats ${servers}`, async () => undefined);
  }

  const credentials = options.credentials ?? {};
  const authorization = await embeddedServerAuth(credentials);
  const binary = env[CONNECT_ENV.serverBin] || 'nats-server';
  let server: NatsServerHandle;
  try {
    server = await startNatsServer({ binary, ...(authorization !== undefined ? { config: { authorization } } : {}) });
  } catch (err) {
    if (!(err instanceof NatsServerNotFoundError)) throw err;
    if (env[CONNECT_ENV.requireNats] === '1') {
      throw new TransportError('sluice', 'connect', `${err.message}, and ${CONNECT_ENV.requireNats}=1 forbids the in-process fallback`, { cause: err });
    }
    logger.warn({}, `${err.message}: running on the in-process transport — durability is OFF (streams live in memory and are lost at exit)`);
    return connection(new LocalTransport(), 'local', 'in-process transport (durability off)', async () => undefined);
  }

  // dispose() may never run (an uncaught error, process.exit elsewhere): still do not leave a
  // server process or its store behind.
  const onExit = () => {
    try {
      if (server.pid > 0) process.kill(server.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    rmSync(server.dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  const stopServer = async () => {
    process.removeListener('exit', onExit);
    await server.dispose();
  };
  try {
    const transport = await NatsTransport.connect({ ...credentials, servers: server.url, name: 'sluice' });
    const auth = authorization === undefined ? '' : ', requiring the given credentials';
    return connection(transport, 'embedded', `embedded nats-server ${server.url} (JetStream store ${server.dir}, removed at exit${auth})`, stopServer);
  } catch (err) {
    await stopServer();
    throw err;
  }
}

function connection(transport: Transport, mode: ConnectionMode, description: string, after: () => Promise<void>): Connection {
  let disposed: Promise<void> | undefined;
  return {
    transport,
    mode,
    description,
    dispose: () =>
      (disposed ??= (async () => {
        try {
          await transport.close();
        } finally {
          await after();
        }
      })()),
  };
}
