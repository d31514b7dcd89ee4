import { readFile } from 'node:fs/promises';
import { nkeys } from '@nats-io/nats-core';
import { InvalidConfigError } from '../errors.js';
import type { NatsCredentials } from '../transport/nats/nats-connect-options.js';

const COMPONENT = 'embedded nats-server';

/**
 * The `authorization` block that makes the embedded nats-server require the credentials the
 * user gave (flags or `NATS_*`), so they work the same with and without `--nats`: a token, a
 * user with a password, an nkey (its public key, derived from the seed file). Undefined when no
 * credentials were given: the private server then accepts any local client, as before.
 *
 * @throws InvalidConfigError for what a private server cannot honour: a creds file (it needs an
 * operator-configured server), TLS files (the embedded server has no certificate), a token
 * together with a user or nkey, or a user without a password.
 */
export async function embeddedServerAuth(credentials: NatsCredentials): Promise<Record<string, unknown> | undefined> {
  const { user, pass, token, credsFile, nkeySeedFile, tls } = credentials;
  const needsServer = (field: string, why: string) => new InvalidConfigError(COMPONENT, field, `${why}; give a server with --nats <url> (or NATS_URL)`);
  if (credsFile !== undefined) throw needsServer('credsFile', 'a creds file (JWT) needs a server set up with an operator and accounts');
  if (tls !== undefined) throw needsServer('tls', 'TLS files need a server that has a certificate, and the embedded one has none');
  if (token !== undefined) {
    if (user !== undefined || nkeySeedFile !== undefined) {
      throw new InvalidConfigError(COMPONENT, 'token', 'cannot be combined with a user or an nkey (a server takes a token or a user list, not both)');
    }
    return { token };
  }
  const users: Array<Record<string, string>> = [];
  if (user !== undefined) {
    if (pass === undefined) throw new InvalidConfigError(COMPONENT, 'user', `'${user}' needs a password (--password or NATS_PASSWORD)`);
    users.push({ user, password: pass });
  }
  if (nkeySeedFile !== undefined) users.push({ nkey: await publicKeyOf(nkeySeedFile) });
  return users.length > 0 ? { users } : undefined;
}

async function publicKeyOf(seedFile: string): Promise<string> {
  let seed: string;
  try {
    seed = (await readFile(seedFile, 'utf8')).trim();
  } catch (err) {
    throw new InvalidConfigError(COMPONENT, 'nkeySeedFile', `cannot read '${seedFile}': ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  try {
    return nkeys.fromSeed(new TextEncoder().encode(seed)).getPublicKey();
  } catch (err) {
    // The message names the file, never its contents.
    throw new InvalidConfigError(COMPONENT, 'nkeySeedFile', `'${seedFile}' does not hold an nkey seed (SU...)`, { cause: err });
  }
}
