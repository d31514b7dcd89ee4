import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseRouteFlag } from '../../../src/cli/parse-route-flag.js';
import { NatsTransport } from '../../../src/transport/nats/nats-transport.js';
import { uniqueName, useNatsServer } from '../../helpers/nats-server.js';
import { readStream } from '../../helpers/read-stream.js';
import { cleanEnv, sluice } from './run-cli.js';

const SECRET = 'whsec_' + Buffer.from('cli-test-secret-0123456789abcdef').toString('base64');

describe('sluice ingest http (child process)', () => {
  const server = useNatsServer();

  it('records a signed webhook sent with curl-like fetch, refuses a bad one, exits 0 on SIGTERM, never prints the secret', { timeout: 60_000 }, async () => {
    const stream = uniqueName('HOOKS');
    const run = sluice(
      [
        'ingest',
        'http',
        '--nats',
        server().url,
        '--port',
        '0',
        '--host',
        '127.0.0.1',
        '--stream',
        stream,
        '--route',
        `/hooks/orders=${stream}.orders`,
        '--log-format',
        'json',
        '--log-level',
        'debug',
      ],
      cleanEnv({ SLUICE_WEBHOOK_SECRET: SECRET }),
    );
    await run.waitFor(/"url":"http:[^"]+"/);
    const url = /"url":"(http:[^"]+)"/.exec(run.output().stderr)![1]!;
    const transport = await NatsTransport.connect({ servers: server().url });
    try {
      const body = '{"order":"C-1"}';
      const ts = Math.floor(Date.now() / 1000);
      const sig = createHmac('sha256', Buffer.from(SECRET.slice(6), 'base64'))
        .update(`evt-cli-1.${ts}.${body}`)
        .digest('base64');
      const headers = { 'content-type': 'application/json', 'webhook-id': 'evt-cli-1', 'webhook-timestamp': String(ts), 'webhook-signature': `v1,${sig}` };
      const ok = await fetch(`${url}/hooks/orders`, { method: 'POST', body, headers });
      expect(ok.status).toBe(200);
      const bad = await fetch(`${url}/hooks/orders`, { method: 'POST', body: '{"order":"C-2"}', headers });
      expect(bad.status).toBe(401);
      const stored = await readStream(transport, stream);
      expect(stored.map((m) => [m.subject, Buffer.from(m.data).toString(), m.headers['Nats-Msg-Id']])).toEqual([[`${stream}.orders`, body, 'evt-cli-1']]);
    } finally {
      await transport.close();
    }
    run.kill('SIGTERM');
    const done = await run.result;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stderr).toMatch(/"msg":"sluice ingest: stopped \(1 recorded, 0 duplicates\)"/);
    expect(done.stdout + done.stderr).not.toContain(SECRET.slice(6));
  });

  it('exits 2 without a route or a server, 1 with a one-line reason when no secret is given', { timeout: 60_000 }, async () => {
    const noRoute = await sluice(['ingest', 'http']).result;
    expect(noRoute.code).toBe(2);
    expect(noRoute.stderr).toContain("required option '--route <path=subject[;key=value...]>' not specified");
    const noSecret = await sluice(['ingest', 'http', '--nats', server().url, '--route', '/h=a.b', '--log-format', 'json']).result;
    expect(noSecret.code).toBe(1);
    expect(noSecret.stderr).toContain("'secret' of route '/h' is missing: set SLUICE_WEBHOOK_SECRET");
    const noServer = await sluice(['ingest', 'http', '--route', '/h=a.b', '--log-format', 'json'], cleanEnv({ SLUICE_WEBHOOK_SECRET: SECRET })).result;
    expect(noServer.code).toBe(2);
    expect(noServer.stderr).toContain("'--nats' is required (or NATS_URL)");
  });
});

describe('parseRouteFlag', () => {
  it('reads PATH=SUBJECT and the per-route options', () => {
    expect(parseRouteFlag('/hooks/orders=shop.webhooks.orders')).toEqual({ path: '/hooks/orders', subject: 'shop.webhooks.orders' });
    expect(
      parseRouteFlag(
        '/gh=github.events;scheme=hmac-sha256;secret-env=GH_SECRET;signature-header=X-Hub-Signature-256;id-header=X-GitHub-Delivery;content-type=application/json,application/x-www-form-urlencoded',
      ),
    ).toEqual({
      path: '/gh',
      subject: 'github.events',
      scheme: 'hmac-sha256',
      secretEnv: 'GH_SECRET',
      signatureHeader: 'X-Hub-Signature-256',
      idHeader: 'X-GitHub-Delivery',
      contentTypes: ['application/json', 'application/x-www-form-urlencoded'],
    });
  });

  it('refuses malformed specs, naming the part', () => {
    expect(() => parseRouteFlag('/hooks')).toThrow("'--route' must be PATH=SUBJECT[;key=value...], got '/hooks'");
    expect(() => parseRouteFlag('/h=a;secret=abc')).toThrow(/option 'secret=abc' of '\/h' must be one of scheme=/);
    expect(() => parseRouteFlag('/h=a;scheme=md5')).toThrow(/scheme of '\/h' must be standard-webhooks or hmac-sha256, got 'md5'/);
  });
});
