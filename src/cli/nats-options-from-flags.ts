import { natsCredentialsFromEnv, NATS_ENV, type NatsConnectOptions, type NatsCredentials } from '../transport/nats/nats-connect-options.js';

/** The connection flags of `sluice run` (and any command that talks to a broker), as commander parses them. */
export interface NatsFlags {
  nats?: string | undefined;
  creds?: string | undefined;
  nkey?: string | undefined;
  token?: string | undefined;
  user?: string | undefined;
  password?: string | undefined;
  tlsCa?: string | undefined;
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
}

/**
 * Connection options from flags over the `NATS_*` environment (a flag wins over its variable):
 * the server from `--nats` or `NATS_URL`, the credentials from {@link natsCredentialsFromFlags}.
 * Every credential source applies whichever way the server was named, so `--nats URL` with
 * `NATS_USER` / `NATS_PASSWORD` in the environment uses them.
 *
 * @returns undefined when neither names a server: `sluice run` then uses the embedded default
 * (with the same credentials, see `connect`); a command that needs an existing broker says so.
 */
export function natsOptionsFromFlags(flags: NatsFlags, env: Readonly<Record<string, string | undefined>>): NatsConnectOptions | undefined {
  const url = flags.nats?.trim() || env[NATS_ENV.url]?.trim();
  if (url === undefined || url === '') return undefined;
  return { servers: splitServers(url), ...natsCredentialsFromFlags(flags, env) };
}

/** The credentials alone (user/password, token, creds file, nkey seed file, TLS files), flags over `NATS_*`. */
export function natsCredentialsFromFlags(flags: NatsFlags, env: Readonly<Record<string, string | undefined>>): NatsCredentials {
  const options = natsCredentialsFromEnv(env);
  if (flags.creds !== undefined) options.credsFile = flags.creds;
  if (flags.nkey !== undefined) options.nkeySeedFile = flags.nkey;
  if (flags.token !== undefined) options.token = flags.token;
  if (flags.user !== undefined) options.user = flags.user;
  if (flags.password !== undefined) options.pass = flags.password;
  if (flags.tlsCa !== undefined || flags.tlsCert !== undefined || flags.tlsKey !== undefined) {
    options.tls = { ...options.tls };
    if (flags.tlsCa !== undefined) options.tls.caFile = flags.tlsCa;
    if (flags.tlsCert !== undefined) options.tls.certFile = flags.tlsCert;
    if (flags.tlsKey !== undefined) options.tls.keyFile = flags.tlsKey;
  }
  return options;
}

function splitServers(url: string): string | string[] {
  const list = url
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return list.length === 1 ? list[0]! : list;
}
