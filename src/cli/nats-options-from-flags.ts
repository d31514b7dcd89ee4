import { InvalidConfigError } from '../errors.js';
import { natsConnectOptionsFromEnv, type NatsConnectOptions } from '../transport/nats-connect-options.js';

/** The connection flags of `sluice run`, as commander parses them. */
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
 * Connection options from flags over the `NATS_*` environment (a flag wins over its variable).
 * Returns undefined when neither names a server: the caller then uses the embedded default.
 *
 * @throws InvalidConfigError when credentials are given without a server to use them on.
 */
export function natsOptionsFromFlags(flags: NatsFlags, env: Readonly<Record<string, string | undefined>>): NatsConnectOptions | undefined {
  const fromEnv = natsConnectOptionsFromEnv(env);
  const url = flags.nats?.trim();
  const credentialFlag = (['creds', 'nkey', 'token', 'user', 'password', 'tlsCa', 'tlsCert', 'tlsKey'] as const).find((k) => flags[k] !== undefined);
  if ((url === undefined || url === '') && fromEnv === undefined) {
    if (credentialFlag !== undefined) {
      throw new InvalidConfigError('sluice run', `--${kebab(credentialFlag)}`, 'needs a server: give --nats <url> or set NATS_URL');
    }
    return undefined;
  }
  const servers = url !== undefined && url !== '' ? splitServers(url) : fromEnv!.servers;
  const options: NatsConnectOptions = { ...fromEnv, servers };
  if (flags.creds !== undefined) options.credsFile = flags.creds;
  if (flags.nkey !== undefined) options.nkeySeedFile = flags.nkey;
  if (flags.token !== undefined) options.token = flags.token;
  if (flags.user !== undefined) options.user = flags.user;
  if (flags.password !== undefined) options.pass = flags.password;
  if (flags.tlsCa !== undefined || flags.tlsCert !== undefined || flags.tlsKey !== undefined) {
    options.tls = { ...fromEnv?.tls };
    if (flags.tlsCa !== undefined) options.tls.caFile = flags.tlsCa;
    if (flags.tlsCert !== undefined) options.tls.certFile = flags.tlsCert;
    if (flags.tlsKey !== undefined) options.tls.keyFile = flags.tlsKey;
  }
  return options;
}

function splitServers(url: string): string | string[] {
  const list = url.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return list.length === 1 ? list[0]! : list;
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
