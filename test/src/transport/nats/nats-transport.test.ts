import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { nkeys } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidConfigError, TransportError } from '../../../../src/errors.js';
import { NatsTransport } from '../../../../src/transport/nats/nats-transport.js';
import { startTestNatsServer, uniqueName, useNatsServer, type NatsServerHandle } from '../../../helpers/nats-server.js';
import type { StreamMessage } from '../../../../src/transport/transport.js';
import { runTransportContract, waitFor, waitForAsync } from '../transport-contract.js';

// Monitoring on a free port, so tests can ask the server itself how many subscriptions exist.
const server = useNatsServer({ config: { http_port: -1 } });

runTransportContract('NatsTransport', async () => {
  const transport = await NatsTransport.connect({ servers: server().url, name: 'contract' });
  return { transport, dispose: () => transport.close() };
});

/** The subjects this connection has subscribed on the server, from `/connz?subs=1`. */
async function serverSubscriptions(handle: NatsServerHandle, connectionName: string): Promise<string[]> {
  const portsFile = (await readdir(handle.dir)).find((f) => f.endsWith('.ports'));
  if (portsFile === undefined) throw new Error('no ports file');
  const ports = JSON.parse(await readFile(join(handle.dir, portsFile), 'utf8')) as { monitoring?: string[] };
  const monitoring = ports.monitoring?.[0];
  if (monitoring === undefined) throw new Error('monitoring port not enabled');
  const connz = (await (await fetch(`${monitoring}/connz?subs=1`)).json()) as {
    connections: { name?: string; subscriptions_list?: string[] }[];
  };
  const conn = connz.connections.find((c) => c.name === connectionName);
  if (conn === undefined) throw new Error(`connection '${connectionName}' not found`);
  return conn.subscriptions_list ?? [];
}

describe('NatsTransport', () => {
  it('is nats and durable, and exposes nc, js and jsm', async () => {
    const t = await NatsTransport.connect({ servers: server().url });
    try {
      expect(t.kind).toBe('nats');
      expect(t.durable).toBe(true);
      expect(t.nc.isClosed()).toBe(false);
      expect(typeof t.js.publish).toBe('function');
      expect((await (await t.jsm()).getAccountInfo()).streams).toBeGreaterThanOrEqual(0);
    } finally {
      await t.close();
    }
    expect(t.nc.isClosed()).toBe(true);
  });

  it('removes the server-side subscription when each subscriber unsubscribes', async () => {
    const name = uniqueName('subs-client');
    const t = await NatsTransport.connect({ servers: server().url, name });
    try {
      await t.flush();
      const baseline = await serverSubscriptions(server(), name);
      const p = uniqueName('leak');
      const source = t.subscribe(`${p}.>`);
      const subs = [source.subscribe(), source.subscribe(), t.subscribe(p, { queue: 'q' }).subscribe()];
      await t.flush();
      expect((await serverSubscriptions(server(), name)).length).toBe(baseline.length + 3);
      subs.forEach((s) => s.unsubscribe());
      await t.flush();
      expect((await serverSubscriptions(server(), name)).sort()).toEqual([...baseline].sort());
    } finally {
      await t.close();
    }
  });

  it('stops the consumer and its subscription when a consume Observable is unsubscribed', async () => {
    const name = uniqueName('consume-client');
    const t = await NatsTransport.connect({ servers: server().url, name });
    try {
      const stream = uniqueName('CS');
      await t.ensureStream({ name: stream, subjects: [`${stream.toLowerCase()}.>`], storage: 'memory' });
      await t.flush();
      const baseline = (await serverSubscriptions(server(), name)).length;
      const sub = t.consume({ stream, durableName: 'worker' }).subscribe();
      await waitForAsync(async () => (await serverSubscriptions(server(), name)).length > baseline);
      sub.unsubscribe();
      await waitForAsync(async () => (await serverSubscriptions(server(), name)).length === baseline);
    } finally {
      await t.close();
    }
  });
});

describe('NatsTransport authentication', () => {
  let tokenServer: NatsServerHandle;
  let usersServer: NatsServerHandle;
  let dir: string;
  const user = nkeys.createUser();
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-auth-'));
    tokenServer = await startTestNatsServer({ jetstream: false, config: { authorization: { token: 's3cret-token' } } });
    usersServer = await startTestNatsServer({
      jetstream: false,
      config: { authorization: { users: [{ user: 'alice', password: 'pw-alice-42' }, { nkey: user.getPublicKey() }] } },
    });
  });
  afterAll(async () => {
    await tokenServer?.dispose();
    await usersServer?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  async function connectError(options: Parameters<typeof NatsTransport.connect>[0]): Promise<Error> {
    const result = await NatsTransport.connect(options).then(
      async (t) => {
        await t.close();
        return undefined;
      },
      (err: unknown) => err as Error,
    );
    if (result === undefined) throw new Error('connect unexpectedly succeeded');
    return result;
  }

  it('connects with the right token; a wrong or missing token fails clearly without leaking it', async () => {
    const ok = await NatsTransport.connect({ servers: tokenServer.url, token: 's3cret-token' });
    await ok.close();
    for (const token of ['wrong-token-value', undefined]) {
      const err = await connectError({ servers: tokenServer.url, token, maxReconnectAttempts: -1 });
      expect(err).toBeInstanceOf(TransportError);
      expect(err.message).toMatch(/refused the credentials/);
      expect(err.message).not.toContain('wrong-token-value');
    }
  });

  it('connects with user and password, in options or in the URL; a wrong password fails', async () => {
    const a = await NatsTransport.connect({ servers: usersServer.url, user: 'alice', pass: 'pw-alice-42' });
    await a.close();
    const b = await NatsTransport.connect({ servers: usersServer.url.replace('nats://', 'nats://alice:pw-alice-42@') });
    await b.close();
    const err = await connectError({ servers: usersServer.url.replace('nats://', 'nats://alice:bad-pw-99@') });
    expect(err).toBeInstanceOf(TransportError);
    expect(err.message).not.toContain('bad-pw-99');
    expect(err.message).toContain('alice:***@');
  });

  it('connects with an nkey seed file', async () => {
    const seedFile = join(dir, 'user.nk');
    await writeFile(seedFile, new TextDecoder().decode(user.getSeed()) + '\n');
    const t = await NatsTransport.connect({ servers: usersServer.url, nkeySeedFile: seedFile });
    await t.close();
  });

  it('names an unreadable creds or nkey file as a config error', async () => {
    await expect(NatsTransport.connect({ servers: usersServer.url, credsFile: join(dir, 'missing.creds') })).rejects.toThrow(
      /credsFile.*missing\.creds.*ENOENT/,
    );
    await expect(NatsTransport.connect({ servers: usersServer.url, nkeySeedFile: join(dir, 'missing.nk') })).rejects.toBeInstanceOf(InvalidConfigError);
  });

  it('reports an unreachable server as a TransportError', async () => {
    const err = await connectError({ servers: 'nats://127.0.0.1:1', connectTimeoutMs: 2000 });
    expect(err).toBeInstanceOf(TransportError);
  });
});

describe('NatsTransport over mutual TLS', () => {
  let server: NatsServerHandle;
  let dir: string;
  const file = (name: string): string => join(dir, name);
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-tls-'));
    const openssl = (...args: string[]) => promisify(execFile)('openssl', args, { cwd: dir });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    await openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=sluice-test-ca');
    for (const [name, ext] of [
      ['server', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
      ['client', 'extendedKeyUsage=clientAuth'],
    ] as const) {
      await writeFile(file(`${name}.ext`), ext);
      await openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
      await openssl(
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        `${name}.pem`,
        '-days',
        '1',
        '-extfile',
        `${name}.ext`,
      );
    }
    server = await startTestNatsServer({
      jetstream: false,
      config: { tls: { cert_file: file('server.pem'), key_file: file('server.key'), ca_file: file('ca.pem'), verify: true } },
    });
  });
  afterAll(async () => {
    await server?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('connects with caFile, certFile and keyFile, and round-trips a request', async () => {
    const t = await NatsTransport.connect({
      servers: server.url.replace('nats://', 'tls://'),
      tls: { caFile: file('ca.pem'), certFile: file('client.pem'), keyFile: file('client.key') },
    });
    try {
      const sub = t.subscribe('tls.echo').subscribe((m) => m.reply !== undefined && t.publish(m.reply, m.data));
      const reply = await t.request('tls.echo', new Uint8Array([7]), { timeoutMs: 2000 });
      expect([...reply.data]).toEqual([7]);
      sub.unsubscribe();
    } finally {
      await t.close();
    }
  });

  it('fails with a TransportError without a client certificate, at once and saying so', async () => {
    const started = Date.now();
    const err = await NatsTransport.connect({ servers: server.url.replace('nats://', 'tls://'), tls: { caFile: file('ca.pem') } }).then(
      async (t) => {
        await t.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TransportError);
    expect((err as Error).message).toMatch(/the server requires a client certificate \(mTLS\) and none was given/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe('NatsTransport across a server restart', () => {
  it('readOrdered starts over at last received + 1; ackPublisher sends what waited during the outage', async () => {
    const server = await startTestNatsServer();
    const t = await NatsTransport.connect({ servers: server.url, name: 'restart-eo' });
    try {
      const events: string[] = [];
      void (async () => {
        for await (const s of t.nc.status()) events.push(s.type);
      })();
      // File storage: both survive the restart.
      await t.ensureStream({ name: 'EO', subjects: ['eo.in'] });
      await t.ensureStream({ name: 'EO_OUT', subjects: ['eo.out'] });
      for (let i = 1; i <= 5; i++) await t.publishDurable('eo.in', new Uint8Array([i]));
      const resets: { reason: string; nextSeq: number }[] = [];
      const reader = await t.readOrdered({ stream: 'EO', startSeq: 1, maxBuffered: 100, onAvailable: () => undefined, onReset: (r) => void resets.push(r) });
      const acks: string[] = [];
      const pub = t.ackPublisher<string>({
        onAck: (token) => void acks.push(token),
        onFailure: (err) => {
          throw err;
        },
      });
      try {
        await waitFor(() => reader.size === 5);
        const seqs = reader.take(100).map((m) => m.seq);

        await server.kill();
        await waitFor(() => events.includes('disconnect'), 10_000);
        pub.publish({ subject: 'eo.out', data: new Uint8Array([9]), msgId: 'during-outage' }, 'during-outage');
        expect(pub.inFlight).toBe(0); // paused: nothing is sent while disconnected
        await server.restart();
        await waitFor(() => events.includes('reconnect'), 20_000);

        await waitFor(() => acks.length === 1, 20_000);
        for (let i = 6; i <= 8; i++) await t.publishDurable('eo.in', new Uint8Array([i]));
        await waitFor(() => reader.size === 3, 20_000);
        seqs.push(...reader.take(100).map((m) => m.seq));
        expect(seqs).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
        expect(resets).toContainEqual(expect.objectContaining({ nextSeq: 6 }));
        expect(acks).toEqual(['during-outage']);
      } finally {
        pub.close();
        await reader.close();
      }
    } finally {
      await t.close();
      await server.dispose();
    }
  }, 60_000);

  it('keeps core subscriptions and durable consumers working after reconnecting', async () => {
    const server = await startTestNatsServer();
    const t = await NatsTransport.connect({ servers: server.url, name: 'restart' });
    try {
      const reconnected = (async () => {
        for await (const s of t.nc.status()) if (s.type === 'reconnect') return;
      })();
      await t.ensureStream({ name: 'RESTART', subjects: ['restart.>'] }); // file storage: survives the restart
      const core: number[] = [];
      const stream: StreamMessage[] = [];
      const subs = [
        t.subscribe('core.x').subscribe((m) => core.push(m.data[0] ?? -1)),
        t.consume({ stream: 'RESTART', durableName: 'd' }).subscribe((m) => (stream.push(m), m.ack())),
      ];
      t.publish('core.x', new Uint8Array([1]));
      await t.publishDurable('restart.a', new Uint8Array([1]));
      await waitFor(() => core.length === 1 && stream.length === 1);

      await server.restart();
      await reconnected;
      t.publish('core.x', new Uint8Array([2]));
      await t.publishDurable('restart.a', new Uint8Array([2]));
      await waitFor(() => core.length === 2 && stream.length === 2, 20_000);
      expect(core).toEqual([1, 2]);
      expect(stream.map((m) => m.seq)).toEqual([1, 2]);
      subs.forEach((s) => s.unsubscribe());
    } finally {
      await t.close();
      await server.dispose();
    }
  });
});
