import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Files made by {@link makeTlsCerts}. */
export interface TlsCerts {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate signed by another CA, which the server must refuse. */
  strangerCert: string;
  strangerKey: string;
}

/**
 * A throwaway CA, a server certificate for 127.0.0.1 / localhost and client certificates, made
 * with `openssl` (P-256 keys: fast) in `dir`, valid for one day.
 */
export async function makeTlsCerts(dir: string): Promise<TlsCerts> {
  const f = (name: string) => join(dir, name);
  const ssl = (...args: string[]) => run('openssl', args);
  const key = (name: string) => ssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f(name));
  await Promise.all([key('ca.key'), key('other-ca.key'), key('server.key'), key('client.key'), key('stranger.key')]);
  await ssl('req', '-x509', '-new', '-key', f('ca.key'), '-out', f('ca.pem'), '-days', '1', '-subj', '/CN=sluice-test-ca');
  await ssl('req', '-x509', '-new', '-key', f('other-ca.key'), '-out', f('other-ca.pem'), '-days', '1', '-subj', '/CN=other-ca');
  await writeFile(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await writeFile(f('client.ext'), 'extendedKeyUsage=clientAuth\n');
  const sign = async (name: string, cn: string, ca: string, ext: string) => {
    await ssl('req', '-new', '-key', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${cn}`);
    await ssl(
      'x509',
      '-req',
      '-in',
      f(`${name}.csr`),
      '-CA',
      f(`${ca}.pem`),
      '-CAkey',
      f(`${ca}.key`),
      '-CAcreateserial',
      '-out',
      f(`${name}.pem`),
      '-days',
      '1',
      '-extfile',
      f(ext),
    );
  };
  await sign('server', 'localhost', 'ca', 'server.ext');
  await sign('client', 'sluice-client', 'ca', 'client.ext');
  await sign('stranger', 'stranger', 'other-ca', 'client.ext');
  return {
    ca: f('ca.pem'),
    serverCert: f('server.pem'),
    serverKey: f('server.key'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
    strangerCert: f('stranger.pem'),
    strangerKey: f('stranger.key'),
  };
}
