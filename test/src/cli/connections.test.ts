import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nkeys } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNatsServer, type NatsServerHandle } from '../../helpers/nats-server.js';
import { makeTlsCerts, type TlsCerts } from '../../helpers/tls-certs.js';
import { cleanEnv, logMessages, sluice } from './run-cli.js';

// Real servers, one per credential kind, each from a config file the helper writes into its temp
// dir; `sluice run` as a child process with the credentials from flags or from NATS_*.
const TOPOLOGY = 'topologies/low-stock.ts';
const PASSWORD = 'pw-Secret-7781';
const TOKEN = 'tok-Secret-5532';
let dir: string;
let certs: TlsCerts;
let seedFile: string;
let strangerSeedFile: string;
let userServer: NatsServerHandle;
let tokenServer: NatsServerHandle;
let nkeyServer: NatsServerHandle;
let tlsServer: NatsServerHandle;
let mtlsServer: NatsServerHandle;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-connections-'));
  certs = await makeTlsCerts(dir);
  const user = nkeys.createUser();
  seedFile = join(dir, 'user.nk');
  await writeFile(seedFile, new TextDecoder().decode(user.getSeed()), { mode: 0o600 });
  strangerSeedFile = join(dir, 'stranger.nk');
  await writeFile(strangerSeedFile, new TextDecoder().decode(nkeys.createUser().getSeed()), { mode: 0o600 });
  const serverTls = { cert_file: certs.serverCert, key_file: certs.serverKey };
  [userServer, tokenServer, nkeyServer, tlsServer, mtlsServer] = await Promise.all([
    startTestNatsServer({ config: { authorization: { users: [{ user: 'alice', password: PASSWORD }] } } }),
    startTestNatsServer({ config: { authorization: { token: TOKEN } } }),
    startTestNatsServer({ config: { authorization: { users: [{ nkey: user.getPublicKey() }] } } }),
    startTestNatsServer({ config: { tls: serverTls } }),
    startTestNatsServer({ config: { tls: { ...serverTls, ca_file: certs.ca, verify: true } } }),
  ]);
}, 60_000);
afterAll(async () => {
  await Promise.all([userServer, tokenServer, nkeyServer, tlsServer, mtlsServer].map((s) => s?.dispose()));
  await rm(dir, { recursive: true, force: true });
});

/** `sluice run` for 300 ms; resolves with its output and how long the whole process took. */
async function run(args: string[], env: Record<string, string> = {}) {
  const started = Date.now();
  const result = await sluice(['run', TOPOLOGY, '--duration-ms', '300', '--log-level', 'trace', ...args], cleanEnv(env)).result;
  const all = result.stdout + result.stderr;
  expect(all).not.toContain(PASSWORD);
  expect(all).not.toContain(TOKEN);
  return { ...result, ms: Date.now() - started };
}

function expectRan(r: { code: number | null; stdout: string; stderr: string }, on: RegExp): void {
  expect(r.code, r.stderr).toBe(0);
  expect(logMessages(r.stderr)).toMatch(on);
  expect(logMessages(r.stderr)).toMatch(/stopped at --duration-ms, drained/);
}

/** The error of the one record the CLI logs when it cannot run (one JSON line). */
function failureLine(stderr: string): string {
  const records = stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string; err?: { message: string } })
    .filter((r) => r.level === 60);
  expect(records).toHaveLength(1);
  expect(records[0]!.msg).toBe('could not run the topology');
  return records[0]!.err!.message.split('\n')[0]!;
}

/** One fatal record whose error says `expected` (pino appends the cause's message after it). */
function expectFailure(stderr: string, expected: string): void {
  const line = failureLine(stderr);
  expect(line === expected || line.startsWith(`${expected}: `), line).toBe(true);
}

describe('sluice run: every credential source, with --nats and from the environment', () => {
  it('user + password: flags; NATS_USER/NATS_PASSWORD with --nats (they used to be ignored); all from NATS_*', { timeout: 60_000 }, async () => {
    const url = userServer.url;
    expectRan(await run(['--nats', url, '--user', 'alice', '--password', PASSWORD]), /on nats /);
    expectRan(await run(['--nats', url], { NATS_USER: 'alice', NATS_PASSWORD: PASSWORD }), /on nats /);
    expectRan(await run([], { NATS_URL: url, NATS_USER: 'alice', NATS_PASSWORD: PASSWORD }), /on nats /);
  });

  it('token: --token, and NATS_TOKEN with --nats', { timeout: 60_000 }, async () => {
    expectRan(await run(['--nats', tokenServer.url, '--token', TOKEN]), /on nats /);
    expectRan(await run(['--nats', tokenServer.url], { NATS_TOKEN: TOKEN }), /on nats /);
  });

  it('nkey seed file: --nkey, and NATS_NKEY with --nats', { timeout: 60_000 }, async () => {
    expectRan(await run(['--nats', nkeyServer.url, '--nkey', seedFile]), /on nats /);
    expectRan(await run(['--nats', nkeyServer.url], { NATS_NKEY: seedFile }), /on nats /);
  });

  it('TLS: --tls-ca, and NATS_CA with --nats', { timeout: 60_000 }, async () => {
    expectRan(await run(['--nats', tlsServer.url, '--tls-ca', certs.ca]), /on nats /);
    expectRan(await run(['--nats', tlsServer.url], { NATS_CA: certs.ca }), /on nats /);
  });

  it('mTLS (verify: true): --tls-ca/--tls-cert/--tls-key, and NATS_CA/NATS_CERT/NATS_KEY with --nats', { timeout: 60_000 }, async () => {
    expectRan(await run(['--nats', mtlsServer.url, '--tls-ca', certs.ca, '--tls-cert', certs.clientCert, '--tls-key', certs.clientKey]), /on nats /);
    expectRan(await run(['--nats', mtlsServer.url], { NATS_CA: certs.ca, NATS_CERT: certs.clientCert, NATS_KEY: certs.clientKey }), /on nats /);
  });

  it('embedded default: the private server requires the given user/password, token or nkey, from flags or NATS_*', { timeout: 60_000 }, async () => {
    const requiring = /on embedded nats-server nats:\/\/127\.0\.0\.1:\d+ \(JetStream store .*, removed at exit, requiring the given credentials\)/;
    expectRan(await run(['--user', 'alice', '--password', PASSWORD]), requiring);
    expectRan(await run([], { NATS_TOKEN: TOKEN }), requiring);
    expectRan(await run([], { NATS_NKEY: seedFile }), requiring);
  });

  it('embedded default: a creds file or TLS files cannot apply to it, and say to give --nats', { timeout: 30_000 }, async () => {
    const creds = await run(['--creds', join(dir, 'user.creds')]);
    expect(creds.code).toBe(1);
    expectFailure(
      creds.stderr,
      "embedded nats-server: 'credsFile' a creds file (JWT) needs a server set up with an operator and accounts; give a server with --nats <url> (or NATS_URL)",
    );
    const tls = await run([], { NATS_CA: certs.ca });
    expect(tls.code).toBe(1);
    expect(failureLine(tls.stderr)).toMatch(/^embedded nats-server: 'tls' TLS files need a server/);
  });
});

describe('sluice run: a connection that cannot be made fails in one line naming the server and the reason, in seconds', () => {
  // Whole-process times: Node + tsx start-up (1-3 s on a busy 2-core machine) plus the failure.
  const FAST_MS = 8_000;

  it('wrong password (flag) and wrong token (env)', { timeout: 30_000 }, async () => {
    const wrong = await run(['--nats', userServer.url, '--user', 'alice', '--password', 'pw-Secret-0000']);
    expect(wrong.code).toBe(1);
    expectFailure(
      wrong.stderr,
      `NatsTransport(${userServer.url}) connect: the server refused the credentials (Authorization Violation); check user/password, token, creds or nkey`,
    );
    expect(wrong.ms).toBeLessThan(FAST_MS);
    const token = await run(['--nats', tokenServer.url], { NATS_TOKEN: 'tok-Secret-0000' });
    expect(token.code).toBe(1);
    expect(failureLine(token.stderr)).toContain('the server refused the credentials');
    expect(token.stdout + token.stderr).not.toContain('tok-Secret-0000');
  });

  it('an nkey the server does not know', { timeout: 30_000 }, async () => {
    const r = await run(['--nats', nkeyServer.url, '--nkey', strangerSeedFile]);
    expect(r.code).toBe(1);
    expect(failureLine(r.stderr)).toContain('the server refused the credentials');
  });

  it('TLS mismatch: no CA for a TLS server', { timeout: 30_000 }, async () => {
    const r = await run(['--nats', tlsServer.url]);
    expect(r.code).toBe(1);
    expectFailure(
      r.stderr,
      `NatsTransport(${tlsServer.url}) connect: the server's certificate is not trusted (unable to verify the first certificate): give its CA with --tls-ca (NATS_CA), and connect by a name the certificate holds`,
    );
    expect(r.ms).toBeLessThan(FAST_MS);
  });

  it('mTLS without a client certificate (used to time out after 20 s with no reason)', { timeout: 30_000 }, async () => {
    const r = await run(['--nats', mtlsServer.url], { NATS_CA: certs.ca });
    expect(r.code).toBe(1);
    expectFailure(
      r.stderr,
      `NatsTransport(${mtlsServer.url}) connect: the server requires a client certificate (mTLS) and none was given: use --tls-cert and --tls-key (NATS_CERT, NATS_KEY)`,
    );
    expect(r.ms).toBeLessThan(FAST_MS);
  });

  it('unreachable server', { timeout: 30_000 }, async () => {
    const r = await run(['--nats', 'nats://127.0.0.1:1']);
    expect(r.code).toBe(1);
    expectFailure(r.stderr, 'NatsTransport(nats://127.0.0.1:1) connect: connection refused: nothing listens on 127.0.0.1:1');
    expect(r.ms).toBeLessThan(FAST_MS);
  });
});
