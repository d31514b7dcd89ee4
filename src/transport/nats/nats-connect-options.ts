/**
 * How to reach a NATS server. Secrets (`pass`, `token`, passwords in URLs) never reach logs:
 * log {@link redactConnectOptions}'s copy instead.
 *
 * @example
 * const options = natsConnectOptionsFromEnv(process.env) ?? { servers: 'nats://127.0.0.1:4222' };
 * logger.info({ nats: redactConnectOptions(options) }, 'connecting');
 * const transport = await NatsTransport.connect(options);
 */
export interface NatsConnectOptions {
  /** One URL or several (`nats://host:4222`, `tls://host:4222`, `host:port`). */
  servers: string | string[];
  /** Client name shown by the server's monitoring (`nats server report connections`). */
  name?: string | undefined;
  user?: string | undefined;
  pass?: string | undefined;
  token?: string | undefined;
  /** Path to a `.creds` file (JWT + nkey seed), as `nsc` generates. */
  credsFile?: string | undefined;
  /** Path to a file holding an nkey seed (`SU...`). */
  nkeySeedFile?: string | undefined;
  /** TLS: files for the CA, client certificate and key; `handshakeFirst` when the server asks for TLS before INFO. */
  tls?: NatsTlsOptions | undefined;
  /** Reconnect attempts per server before giving up. Default -1: forever. */
  maxReconnectAttempts?: number | undefined;
  /**
   * How long to wait for the initial connection, ms. Default 5000 (the `nats` CLI's default; the
   * client's own is 20000): a server that does not answer is reported within seconds.
   */
  connectTimeoutMs?: number | undefined;
}

/** TLS files for {@link NatsConnectOptions.tls}. */
export interface NatsTlsOptions {
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  handshakeFirst?: boolean | undefined;
}

/** Environment variable names read by {@link natsConnectOptionsFromEnv}; the same names the `nats` CLI uses. */
export const NATS_ENV = {
  url: 'NATS_URL',
  user: 'NATS_USER',
  password: 'NATS_PASSWORD',
  token: 'NATS_TOKEN',
  creds: 'NATS_CREDS',
  nkey: 'NATS_NKEY',
  ca: 'NATS_CA',
  cert: 'NATS_CERT',
  key: 'NATS_KEY',
} as const;

/** Everything in {@link NatsConnectOptions} but the servers: what authenticates and encrypts a connection. */
export type NatsCredentials = Omit<NatsConnectOptions, 'servers'>;

/**
 * Reads connection options from the environment: `NATS_URL` (comma-separated for several
 * servers) plus the credentials {@link natsCredentialsFromEnv} reads. Empty values count as unset.
 *
 * @returns undefined when `NATS_URL` is unset, so callers can fall back to an embedded server or
 * the local transport.
 */
export function natsConnectOptionsFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): NatsConnectOptions | undefined {
  const url = envValue(env, NATS_ENV.url);
  if (url === undefined) return undefined;
  const servers = url
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return { servers: servers.length === 1 ? (servers[0] ?? url) : servers, ...natsCredentialsFromEnv(env) };
}

/**
 * The credentials in the environment, whether or not `NATS_URL` is set: `NATS_USER` +
 * `NATS_PASSWORD`, `NATS_TOKEN`, `NATS_CREDS` (creds file path), `NATS_NKEY` (nkey seed file
 * path), and `NATS_CA` / `NATS_CERT` / `NATS_KEY` (TLS file paths). Empty values count as unset.
 */
export function natsCredentialsFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): NatsCredentials {
  const options: NatsCredentials = {};
  const set = <K extends keyof NatsCredentials>(key: K, value: NatsCredentials[K] | undefined): void => {
    if (value !== undefined) options[key] = value;
  };
  set('user', envValue(env, NATS_ENV.user));
  set('pass', envValue(env, NATS_ENV.password));
  set('token', envValue(env, NATS_ENV.token));
  set('credsFile', envValue(env, NATS_ENV.creds));
  set('nkeySeedFile', envValue(env, NATS_ENV.nkey));
  const tls: NatsTlsOptions = {};
  const ca = envValue(env, NATS_ENV.ca);
  const cert = envValue(env, NATS_ENV.cert);
  const key = envValue(env, NATS_ENV.key);
  if (ca !== undefined) tls.caFile = ca;
  if (cert !== undefined) tls.certFile = cert;
  if (key !== undefined) tls.keyFile = key;
  if (Object.keys(tls).length > 0) options.tls = tls;
  return options;
}

function envValue(env: Readonly<Record<string, string | undefined>>, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

const REDACTED = '***';

/**
 * A copy that is safe to log: `pass` and `token` become `***`, and so does the secret part of a
 * server URL (`nats://user:***@host`, or `nats://***@host` for a token in the URL). File paths
 * are kept: they say where a secret is, not what it is.
 */
export function redactConnectOptions(options: NatsConnectOptions): NatsConnectOptions {
  const copy: NatsConnectOptions = {
    ...options,
    servers: Array.isArray(options.servers) ? options.servers.map(redactUrl) : redactUrl(options.servers),
  };
  if (options.pass !== undefined) copy.pass = REDACTED;
  if (options.token !== undefined) copy.token = REDACTED;
  if (options.tls !== undefined) copy.tls = { ...options.tls };
  return copy;
}

/** Hides the credentials in `scheme://user:pass@host` or `user:pass@host` (with or without a scheme). */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)?([^@/]*)@/i, (_match, scheme: string | undefined, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    const safe = colon >= 0 ? `${userinfo.slice(0, colon)}:${REDACTED}` : REDACTED;
    return `${scheme ?? ''}${safe}@`;
  });
}
