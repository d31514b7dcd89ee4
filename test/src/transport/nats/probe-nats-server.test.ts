import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransportError } from '../../../../src/errors.js';
import type { NatsConnectOptions } from '../../../../src/transport/nats/nats-connect-options.js';
import { NatsTransport } from '../../../../src/transport/nats/nats-transport.js';
import { probeNatsServer } from '../../../../src/transport/nats/probe-nats-server.js';
import { startTestNatsServer, type NatsServerHandle } from '../../../helpers/nats-server.js';
import { makeTlsCerts, type TlsCerts } from '../../../helpers/tls-certs.js';

let dir: string;
let certs: TlsCerts;
let tls: NatsServerHandle;
let mtls: NatsServerHandle;
let plain: NatsServerHandle;
let users: NatsServerHandle;
let silent: Server;
let silentUrl: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-probe-'));
  certs = await makeTlsCerts(dir);
  const serverTls = { cert_file: certs.serverCert, key_file: certs.serverKey };
  [tls, mtls, plain, users] = await Promise.all([
    startTestNatsServer({ jetstream: false, config: { tls: serverTls } }),
    startTestNatsServer({ jetstream: false, config: { tls: { ...serverTls, ca_file: certs.ca, verify: true } } }),
    startTestNatsServer({ jetstream: false }),
    startTestNatsServer({ jetstream: false, config: { authorization: { user: 'alice', password: 'pw-alice-1' } } }),
  ]);
  // Accepts TCP and never says a word, like a wrong port or a TLS-first proxy.
  silent = createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentUrl = `nats://127.0.0.1:${(silent.address() as { port: number }).port}`;
}, 60_000);
afterAll(async () => {
  await Promise.all([tls, mtls, plain, users].map((s) => s?.dispose()));
  silent?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Connects, expecting a failure: its one-line message and how long it took. */
async function failure(options: NatsConnectOptions): Promise<{ message: string; ms: number }> {
  const started = Date.now();
  try {
    const t = await NatsTransport.connect(options);
    await t.close();
  } catch (err) {
    expect(err).toBeInstanceOf(TransportError);
    return { message: (err as Error).message, ms: Date.now() - started };
  }
  throw new Error('connected, expected a failure');
}

describe('NatsTransport.connect: each failure is one line naming the server and the reason, within seconds', () => {
  it('mTLS without a client certificate: named at once (the client alone waits its whole timeout and says "timeout")', async () => {
    const { message, ms } = await failure({ servers: mtls.url, tls: { caFile: certs.ca } });
    expect(message).toBe(
      `NatsTransport(${mtls.url}) connect: the server requires a client certificate (mTLS) and none was given: use --tls-cert and --tls-key (NATS_CERT, NATS_KEY)`,
    );
    expect(ms).toBeLessThan(2_000);
  });

  it('mTLS with a certificate from a CA the server does not trust', async () => {
    const { message, ms } = await failure({ servers: mtls.url, tls: { caFile: certs.ca, certFile: certs.strangerCert, keyFile: certs.strangerKey } });
    expect(message).toMatch(
      new RegExp(`^NatsTransport\\(${mtls.url}\\) connect: the server rejected the client certificate \\(.+\\): is it signed by a CA the server trusts\\?$`),
    );
    expect(ms).toBeLessThan(2_000);
  });

  it("TLS mismatch: the server's certificate is not trusted without its CA", async () => {
    const { message, ms } = await failure({ servers: tls.url });
    expect(message).toBe(
      `NatsTransport(${tls.url}) connect: the server's certificate is not trusted (unable to verify the first certificate): give its CA with --tls-ca (NATS_CA), and connect by a name the certificate holds`,
    );
    expect(ms).toBeLessThan(2_000);
  });

  it('TLS mismatch: TLS files for a server without TLS', async () => {
    const { message } = await failure({ servers: plain.url, tls: { caFile: certs.ca } });
    expect(message).toBe(`NatsTransport(${plain.url}) connect: TLS options were given but the server does not offer TLS`);
  });

  it('wrong credentials: the server refused them, and the password is not in the message', async () => {
    const { message, ms } = await failure({ servers: users.url, user: 'alice', pass: 'not-the-password' });
    expect(message).toBe(
      `NatsTransport(${users.url}) connect: the server refused the credentials (Authorization Violation); check user/password, token, creds or nkey`,
    );
    expect(message).not.toContain('not-the-password');
    expect(ms).toBeLessThan(2_000);
  });

  it('unreachable: nothing listens on the port', async () => {
    const { message, ms } = await failure({ servers: 'nats://127.0.0.1:1' });
    expect(message).toBe('NatsTransport(nats://127.0.0.1:1) connect: connection refused: nothing listens on 127.0.0.1:1');
    expect(ms).toBeLessThan(2_000);
  });

  it('a server that never answers: the default connect timeout is 5 s, and the message says where it stopped', async () => {
    const { message, ms } = await failure({ servers: silentUrl });
    expect(message).toBe(`NatsTransport(${silentUrl}) connect: no answer within 5000 ms (waiting for the server INFO)`);
    expect(ms).toBeGreaterThanOrEqual(4_900);
    expect(ms).toBeLessThan(6_500);
  });

  it('several servers failing differently: one reason per server', async () => {
    const { message } = await failure({ servers: ['nats://127.0.0.1:1', tls.url] });
    expect(message).toContain('nats://127.0.0.1:1: connection refused: nothing listens on 127.0.0.1:1');
    expect(message).toContain(`${tls.url}: the server's certificate is not trusted`);
  });
});

describe('probeNatsServer', () => {
  it('passes what a client can connect to: plain, TLS with its CA, mTLS with a client certificate', async () => {
    expect(await probeNatsServer(plain.url, undefined, 2_000)).toEqual({ ok: true });
    expect(await probeNatsServer(tls.url, { caFile: certs.ca }, 2_000)).toEqual({ ok: true });
    expect(await probeNatsServer(mtls.url, { caFile: certs.ca, certFile: certs.clientCert, keyFile: certs.clientKey }, 2_000)).toEqual({ ok: true });
    const t = await NatsTransport.connect({ servers: mtls.url, tls: { caFile: certs.ca, certFile: certs.clientCert, keyFile: certs.clientKey } });
    await t.close();
  });

  it('names unreadable TLS files by path', async () => {
    expect(await probeNatsServer(tls.url, { caFile: join(dir, 'missing.pem') }, 2_000)).toEqual({
      ok: false,
      reason: `cannot read the TLS CA file '${join(dir, 'missing.pem')}': ENOENT`,
    });
  });
});
