import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { natsConnectOptionsFromEnv, redactConnectOptions, redactUrl, type NatsConnectOptions } from '../../../../src/transport/nats/nats-connect-options.js';
import { toNodeConnectionOptions } from '../../../../src/transport/nats/to-node-connection-options.js';
import { InvalidConfigError } from '../../../../src/errors.js';

const numRuns = Number(process.env.PROP_RUNS ?? 200);

describe('natsConnectOptionsFromEnv', () => {
  it('returns undefined without NATS_URL (so callers can fall back to an embedded server)', () => {
    expect(natsConnectOptionsFromEnv({})).toBeUndefined();
    expect(natsConnectOptionsFromEnv({ NATS_URL: '  ', NATS_TOKEN: 't' })).toBeUndefined();
  });

  it('reads every variable', () => {
    expect(
      natsConnectOptionsFromEnv({
        NATS_URL: 'nats://a:4222, nats://b:4222',
        NATS_USER: 'alice',
        NATS_PASSWORD: 'pw',
        NATS_TOKEN: 'tok',
        NATS_CREDS: '/etc/nats/app.creds',
        NATS_NKEY: '/etc/nats/app.nk',
        NATS_CA: '/ca.pem',
        NATS_CERT: '/cert.pem',
        NATS_KEY: '/key.pem',
      }),
    ).toEqual({
      servers: ['nats://a:4222', 'nats://b:4222'],
      user: 'alice',
      pass: 'pw',
      token: 'tok',
      credsFile: '/etc/nats/app.creds',
      nkeySeedFile: '/etc/nats/app.nk',
      tls: { caFile: '/ca.pem', certFile: '/cert.pem', keyFile: '/key.pem' },
    });
  });

  it('keeps a single URL as a string and ignores empty values', () => {
    expect(natsConnectOptionsFromEnv({ NATS_URL: 'nats://h:4222', NATS_USER: '', NATS_CA: '' })).toEqual({ servers: 'nats://h:4222' });
  });
});

describe('redactConnectOptions', () => {
  it('hides pass, token and URL credentials but keeps file paths and user names', () => {
    const options: NatsConnectOptions = {
      servers: ['nats://bob:hunter2@h1:4222', 'tls://sometoken@h2:4222', 'h3:4222'],
      user: 'alice',
      pass: 'pw',
      token: 'tok',
      credsFile: '/etc/app.creds',
      tls: { keyFile: '/key.pem' },
    };
    expect(redactConnectOptions(options)).toEqual({
      servers: ['nats://bob:***@h1:4222', 'tls://***@h2:4222', 'h3:4222'],
      user: 'alice',
      pass: '***',
      token: '***',
      credsFile: '/etc/app.creds',
      tls: { keyFile: '/key.pem' },
    });
    expect(options.pass).toBe('pw'); // the original is untouched
  });

  it('redacts URLs without a scheme', () => {
    expect(redactUrl('bob:hunter2@h:4222')).toBe('bob:***@h:4222');
    expect(redactUrl('nats://h:4222')).toBe('nats://h:4222');
  });

  it('never lets a secret through, wherever it is placed', () => {
    // The S3c prefix keeps a generated secret from spelling a word that is legitimately in the output.
    const secret = fc.stringMatching(/^S3c[A-Za-z0-9_~!$%^&*-]{4,20}$/);
    fc.assert(
      fc.property(secret, secret, secret, fc.constantFrom('nats://', 'tls://', ''), (pass, token, urlSecret, scheme) => {
        const redacted = JSON.stringify(
          redactConnectOptions({
            servers: [`${scheme}user:${urlSecret}@host.example:4222`, `${scheme}${urlSecret}@host.example:4222`],
            user: 'user',
            pass,
            token,
          }),
        );
        for (const s of [pass, token, urlSecret]) expect(redacted).not.toContain(s);
      }),
      { numRuns },
    );
  });
});

describe('toNodeConnectionOptions', () => {
  it('always sets noAsyncTraces, reconnects forever by default, and lifts URL credentials', async () => {
    const out = await toNodeConnectionOptions({ servers: 'nats://bob:p%40ss@h:4222', connectTimeoutMs: 1500 });
    expect(out).toMatchObject({ servers: ['nats://h:4222'], user: 'bob', pass: 'p@ss', noAsyncTraces: true, maxReconnectAttempts: -1, timeout: 1500 });
    expect(await toNodeConnectionOptions({ servers: 'nats://tok@h:4222' })).toMatchObject({ servers: ['nats://h:4222'], token: 'tok' });
    expect(await toNodeConnectionOptions({ servers: 'nats://bob:x@h', user: 'carol', pass: 'y' })).toMatchObject({ user: 'carol', pass: 'y' });
  });

  it('rejects bad numbers and empty servers with InvalidConfigError', async () => {
    await expect(toNodeConnectionOptions({ servers: [] })).rejects.toBeInstanceOf(InvalidConfigError);
    await expect(toNodeConnectionOptions({ servers: 'h', maxReconnectAttempts: -2 })).rejects.toBeInstanceOf(InvalidConfigError);
    await expect(toNodeConnectionOptions({ servers: 'h', connectTimeoutMs: 0 })).rejects.toBeInstanceOf(InvalidConfigError);
  });
});
