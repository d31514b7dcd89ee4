import { createHmac } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../../src/errors.js';
import { ensureIngestStream } from '../../../src/ingest/ensure-ingest-stream.js';
import { hmacSha256Verifier } from '../../../src/ingest/hmac-sha256-verifier.js';
import { standardWebhooksVerifier } from '../../../src/ingest/standard-webhooks-verifier.js';
import { startIngestServer, type IngestServer } from '../../../src/ingest/start-ingest-server.js';
import { NatsTransport } from '../../../src/transport/nats/nats-transport.js';
import { uniqueName, useNatsServer } from '../../helpers/nats-server.js';
import { readStream } from '../../helpers/read-stream.js';
import { until } from '../../helpers/until.js';

const SECRET = 'whsec_' + Buffer.from('sluice-test-secret-0123456789ab').toString('base64');
const GH_SECRET = 'gh-secret-do-not-log';

/** Headers a Standard Webhooks sender sets for `body`. */
function signed(id: string, body: string, timestampSec = Math.floor(Date.now() / 1000), secret = SECRET): Record<string, string> {
  const sig = createHmac('sha256', Buffer.from(secret.slice(6), 'base64'))
    .update(`${id}.${timestampSec}.${body}`)
    .digest('base64');
  return { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(timestampSec), 'webhook-signature': `v1,${sig}` };
}

/** A signed POST whose body stops after 5 bytes until `release()`: a request held in progress. */
function slowPost(url: string, id: string, body: string): { response: Promise<Response>; release: () => void } {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const response = fetch(url, {
    method: 'POST',
    headers: signed(id, body),
    body: new ReadableStream({
      async start(c) {
        c.enqueue(Buffer.from(body.slice(0, 5)));
        await held;
        c.enqueue(Buffer.from(body.slice(5)));
        c.close();
      },
    }),
    duplex: 'half',
  });
  return { response, release };
}

describe('startIngestServer over a real nats-server', () => {
  const server = useNatsServer();
  const stream = uniqueName('HOOKS');
  const subject = `${stream}.orders`;
  const ghSubject = `${stream}.github`;
  const logs: string[] = [];
  let transport: NatsTransport;
  let ingest: IngestServer;

  beforeAll(async () => {
    transport = await NatsTransport.connect({ servers: server().url });
    const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) });
    await ensureIngestStream(transport, { name: stream, subjects: [subject, ghSubject], duplicateWindowMs: 3_600_000, minDuplicateWindowMs: 600_000, logger });
    ingest = await startIngestServer({
      transport,
      logger,
      port: 0,
      host: '127.0.0.1',
      maxBodyBytes: 64 * 1024,
      publishTimeoutMs: 1000,
      routes: [
        { path: '/hooks/orders', subject, verifier: standardWebhooksVerifier({ secrets: [SECRET] }) },
        {
          path: '/hooks/github',
          subject: ghSubject,
          verifier: hmacSha256Verifier({ secrets: [GH_SECRET], signatureHeader: 'X-Hub-Signature-256', idHeader: 'X-GitHub-Delivery' }),
        },
      ],
    });
  });
  afterAll(async () => {
    await ingest?.close();
    await transport?.close();
  });

  const post = (path: string, body: string | Uint8Array, headers: Record<string, string>) => fetch(`${ingest.url}${path}`, { method: 'POST', body, headers });
  const recorded = async () => (await readStream(transport, stream)).filter((m) => m.subject === subject);

  it('a good signature: 200 after the ack, the exact body on the subject with the id, content type and signed time', async () => {
    const body = '{"order":"A-1","total":42}';
    const ts = Math.floor(Date.now() / 1000);
    const res = await post('/hooks/orders', body, signed('evt-good-1', body, ts));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: 'evt-good-1', duplicate: false });
    const [m] = (await recorded()).filter((x) => x.headers['Nats-Msg-Id'] === 'evt-good-1');
    expect(Buffer.from(m!.data).toString()).toBe(body);
    expect(m!.headers).toMatchObject({ 'Content-Type': 'application/json', 'Webhook-Id': 'evt-good-1', 'Sluice-Event-Time': String(ts * 1000) });
  });

  it('a retried or replayed delivery id is recorded once: the same request again, and a re-signed retry', async () => {
    const body = '{"order":"A-2"}';
    const before = (await recorded()).length;
    const first = signed('evt-retry-2', body);
    const answers = [];
    answers.push(await post('/hooks/orders', body, first));
    answers.push(await post('/hooks/orders', body, first));
    answers.push(await post('/hooks/orders', body, signed('evt-retry-2', body, Math.floor(Date.now() / 1000) + 1)));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(await Promise.all(answers.map(async (r) => ((await r.json()) as { duplicate: boolean }).duplicate))).toEqual([false, true, true]);
    const after = await recorded();
    expect(after.length).toBe(before + 1);
    expect(after.filter((m) => m.headers['Nats-Msg-Id'] === 'evt-retry-2')).toHaveLength(1);
  });

  it('bad signatures are 401 and record nothing: wrong secret, tampered body, none at all, stale timestamp', async () => {
    const before = (await recorded()).length;
    const body = '{"order":"A-3"}';
    const other = 'whsec_' + Buffer.from('another-secret-0123456789abcdef').toString('base64');
    const cases = [
      await post('/hooks/orders', body, signed('evt-bad-1', body, undefined, other)),
      await post('/hooks/orders', '{"order":"A-4"}', signed('evt-bad-2', body)),
      await post('/hooks/orders', body, { 'content-type': 'application/json', 'webhook-id': 'evt-bad-3', 'webhook-timestamp': '1700000000' }),
      await post('/hooks/orders', body, signed('evt-bad-4', body, Math.floor(Date.now() / 1000) - 3600)),
    ];
    expect(cases.map((r) => r.status)).toEqual([401, 401, 401, 401]);
    const codes = await Promise.all(cases.map(async (r) => ((await r.json()) as { code: string }).code));
    expect(codes).toEqual(['bad-signature', 'bad-signature', 'missing-header', 'stale-timestamp']);
    expect((await recorded()).length).toBe(before);
  });

  it('the GitHub-style route: sha256=<hex> over the body, its own delivery id header', async () => {
    const body = '{"action":"opened"}';
    const sig = `sha256=${createHmac('sha256', GH_SECRET).update(body).digest('hex')}`;
    const ok = await post('/hooks/github', body, { 'content-type': 'application/json', 'x-hub-signature-256': sig, 'x-github-delivery': 'gh-1' });
    expect(ok.status).toBe(200);
    const bad = await post('/hooks/github', body, {
      'content-type': 'application/json',
      'x-hub-signature-256': sig.replace(/.$/, (c) => (c === '0' ? '1' : '0')),
      'x-github-delivery': 'gh-2',
    });
    expect(bad.status).toBe(401);
    const onGithub = (await readStream(transport, stream)).filter((m) => m.subject === ghSubject);
    expect(onGithub.map((m) => m.headers['Nats-Msg-Id'])).toEqual(['gh-1']);
  });

  it('an oversized body is 413, whether announced by Content-Length or streamed in chunks', async () => {
    const big = '{"pad":"' + 'x'.repeat(70 * 1024) + '"}';
    const announced = await post('/hooks/orders', big, signed('evt-big-1', big));
    expect(announced.status).toBe(413);
    expect(((await announced.json()) as { error: string }).error).toBe(`body is ${Buffer.byteLength(big)} bytes; the limit is 65536 bytes`);
    const chunks = [Buffer.from(big.slice(0, 40_000)), Buffer.from(big.slice(40_000))];
    const streamed = await fetch(`${ingest.url}/hooks/orders`, {
      method: 'POST',
      headers: signed('evt-big-2', big),
      body: new ReadableStream({ pull: (c) => (chunks.length > 0 ? c.enqueue(chunks.shift()!) : c.close()) }),
      duplex: 'half',
    });
    expect(streamed.status).toBe(413);
    expect(((await streamed.json()) as { code: string }).code).toBe('payload-too-large');
  });

  it('clear 4xx for the wrong content type (415), an unknown path (404), the wrong method (405), a body that is not JSON (400)', async () => {
    const body = 'order=A-5';
    const form = await post('/hooks/orders', body, { ...signed('evt-ct', body), 'content-type': 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(415);
    expect(((await form.json()) as { error: string }).error).toContain('send application/json');
    expect((await post('/hooks/nope', '{}', signed('evt-404', '{}'))).status).toBe(404);
    const get = await fetch(`${ingest.url}/hooks/orders`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    const notJson = await post('/hooks/orders', '{"order":', signed('evt-json', '{"order":'));
    expect([notJson.status, ((await notJson.json()) as { code: string }).code]).toEqual([400, 'invalid-json']);
  });

  it('logs refusals and records without the secrets or signatures', () => {
    const text = logs.join('');
    expect(text).toContain('"code":"bad-signature"');
    expect(text).toContain('"id":"evt-good-1"');
    expect(text).not.toContain(SECRET.slice(6));
    expect(text).not.toContain(GH_SECRET);
    expect(text).not.toContain('v1,');
    expect(text).not.toContain('sha256=');
  });

  it('a stopped nats-server: 503 with Retry-After; after a restart the retry is 200 and the event is recorded once', { timeout: 60_000 }, async () => {
    const body = '{"order":"A-6"}';
    await server().stop();
    try {
      const down = await post('/hooks/orders', body, signed('evt-outage', body));
      expect(down.status).toBe(503);
      expect(down.headers.get('retry-after')).toBe('5');
      expect(((await down.json()) as { code: string }).code).toBe('unavailable');
    } finally {
      await server().restart();
    }
    let status = 0;
    for (let attempt = 0; attempt < 30 && status !== 200; attempt++) {
      status = (await post('/hooks/orders', body, signed('evt-outage', body))).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 500));
    }
    expect(status).toBe(200);
    expect((await recorded()).filter((m) => m.headers['Nats-Msg-Id'] === 'evt-outage')).toHaveLength(1);
    expect(ingest.stats().rejected.unavailable).toBeGreaterThanOrEqual(1);
  });

  it('more requests in progress than maxInFlight: 503 busy with Retry-After, memory stays bounded', async () => {
    const logger = pino({ level: 'silent' });
    const small = await startIngestServer({
      transport,
      logger,
      port: 0,
      host: '127.0.0.1',
      maxInFlight: 1,
      routes: [{ path: '/x', subject, verifier: standardWebhooksVerifier({ secrets: [SECRET] }) }],
    });
    try {
      const body = '{"order":"slow"}';
      const slow = slowPost(`${small.url}/x`, 'evt-slow', body);
      await until(() => small.stats().inProgress === 1, { what: 'the slow request being read' });
      const busy = await fetch(`${small.url}/x`, { method: 'POST', body, headers: signed('evt-busy', body) });
      expect([busy.status, busy.headers.get('retry-after'), ((await busy.json()) as { code: string }).code]).toEqual([503, '5', 'busy']);
      slow.release();
      expect((await slow.response).status).toBe(200);
    } finally {
      await small.close();
    }
  });

  it('close() lets a request in progress finish (200, stored) and refuses new connections', async () => {
    const logger = pino({ level: 'silent' });
    const draining = await startIngestServer({
      transport,
      logger,
      port: 0,
      host: '127.0.0.1',
      routes: [{ path: '/x', subject, verifier: standardWebhooksVerifier({ secrets: [SECRET] }) }],
    });
    const body = '{"order":"drain"}';
    const slow = slowPost(`${draining.url}/x`, 'evt-drain', body);
    await until(() => draining.stats().inProgress === 1, { what: 'the slow request being read' });
    const closed = draining.close(10_000);
    await expect(fetch(`${draining.url}/x`, { method: 'POST', body, headers: signed('evt-late', body) })).rejects.toThrow();
    slow.release();
    expect((await slow.response).status).toBe(200);
    await closed;
    expect((await recorded()).filter((m) => m.headers['Nats-Msg-Id'] === 'evt-drain')).toHaveLength(1);
  });

  it('refuses a body limit above max_payload, and a stream whose duplicate window is shorter than the replay window', async () => {
    const logger = pino({ level: 'silent' });
    const routes = [{ path: '/x', subject, verifier: standardWebhooksVerifier({ secrets: [SECRET] }) }];
    await expect(startIngestServer({ transport, logger, routes, port: 0, maxBodyBytes: transport.maxPayloadBytes })).rejects.toThrow(
      /'maxBodyBytes' must be an integer from 1 to \d+ \(the server's max_payload 1048576 less 4096 for headers\)/,
    );
    const short = uniqueName('SHORT');
    await transport.ensureStream({ name: short, subjects: [`${short}.>`], duplicateWindowMs: 60_000 });
    await expect(
      ensureIngestStream(transport, { name: short, subjects: [`${short}.a`], duplicateWindowMs: 3_600_000, minDuplicateWindowMs: 600_000, logger }),
    ).rejects.toThrow(InvalidConfigError);
  });
});
