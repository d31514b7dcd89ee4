import { readFile } from 'node:fs/promises';
import { credsAuthenticator, nkeyAuthenticator, type Authenticator } from '@nats-io/nats-core';
import type { NodeConnectionOptions } from '@nats-io/transport-node';
import { InvalidConfigError } from '../../errors.js';
import type { NatsConnectOptions } from './nats-connect-options.js';

const COMPONENT = 'NatsConnectOptions';

/**
 * Turns Sluice's connection options into the client's, reading the creds and nkey files. Always
 * `noAsyncTraces: true`: the client otherwise builds an Error per request and JetStream publish.
 *
 * @throws InvalidConfigError when a file cannot be read or a number is out of range.
 */
export async function toNodeConnectionOptions(options: NatsConnectOptions): Promise<NodeConnectionOptions> {
  const servers = Array.isArray(options.servers) ? options.servers : [options.servers];
  if (servers.length === 0 || servers.some((s) => s.trim() === '')) {
    throw new InvalidConfigError(COMPONENT, 'servers', 'must name at least one non-empty server URL');
  }
  const maxReconnectAttempts = options.maxReconnectAttempts ?? -1;
  if (!Number.isInteger(maxReconnectAttempts) || maxReconnectAttempts < -1) {
    throw new InvalidConfigError(COMPONENT, 'maxReconnectAttempts', `must be -1 (forever) or an integer >= 0, got ${String(maxReconnectAttempts)}`);
  }
  const timeout = options.connectTimeoutMs;
  if (timeout !== undefined && !(Number.isFinite(timeout) && timeout > 0)) {
    throw new InvalidConfigError(COMPONENT, 'connectTimeoutMs', `must be a positive number of ms, got ${String(timeout)}`);
  }
  const authenticators: Authenticator[] = [];
  if (options.credsFile !== undefined) {
    authenticators.push(credsAuthenticator(await readSecretFile('credsFile', options.credsFile)));
  }
  if (options.nkeySeedFile !== undefined) {
    const seed = new TextDecoder().decode(await readSecretFile('nkeySeedFile', options.nkeySeedFile)).trim();
    authenticators.push(nkeyAuthenticator(new TextEncoder().encode(seed)));
  }
  // The client ignores credentials inside server URLs; NATS_URL often carries them, so lift them
  // into options (explicit options win).
  const fromUrl = servers.map(splitCredentials);
  const urlAuth = fromUrl.find((s) => s.user !== undefined || s.token !== undefined);
  const out: NodeConnectionOptions = { servers: fromUrl.map((s) => s.server), maxReconnectAttempts, noAsyncTraces: true };
  if (options.name !== undefined) out.name = options.name;
  const user = options.user ?? urlAuth?.user;
  const pass = options.pass ?? (options.user === undefined ? urlAuth?.pass : undefined);
  const token = options.token ?? (user === undefined ? urlAuth?.token : undefined);
  if (user !== undefined) out.user = user;
  if (pass !== undefined) out.pass = pass;
  if (token !== undefined) out.token = token;
  if (timeout !== undefined) out.timeout = timeout;
  if (authenticators.length > 0) out.authenticator = authenticators;
  if (options.tls !== undefined) {
    const { caFile, certFile, keyFile, handshakeFirst } = options.tls;
    out.tls = {
      ...(caFile !== undefined ? { caFile } : {}),
      ...(certFile !== undefined ? { certFile } : {}),
      ...(keyFile !== undefined ? { keyFile } : {}),
      ...(handshakeFirst !== undefined ? { handshakeFirst } : {}),
    };
  }
  return out;
}

async function readSecretFile(field: string, path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (err) {
    // The message names the path, never the contents.
    throw new InvalidConfigError(COMPONENT, field, `cannot read '${path}': ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
}

/** `nats://user:pass@host:4222` → server without credentials, plus user/pass (or a token for `nats://token@host`). */
function splitCredentials(url: string): { server: string; user?: string; pass?: string; token?: string } {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)?([^@/]*)@(.*)$/i.exec(url);
  if (match === null) return { server: url };
  const [, scheme = '', userinfo = '', rest = ''] = match;
  const server = `${scheme}${rest}`;
  const colon = userinfo.indexOf(':');
  if (colon < 0) return { server, token: decodeURIComponent(userinfo) };
  return { server, user: decodeURIComponent(userinfo.slice(0, colon)), pass: decodeURIComponent(userinfo.slice(colon + 1)) };
}
