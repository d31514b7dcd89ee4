import { describe, expect, it } from 'vitest';
import { natsCredentialsFromFlags, natsOptionsFromFlags } from '../../../src/cli/nats-options-from-flags.js';

describe('natsOptionsFromFlags', () => {
  it('returns undefined without --nats or NATS_URL (embedded default)', () => {
    expect(natsOptionsFromFlags({}, {})).toBeUndefined();
  });

  it('takes the server list from --nats, and credentials from flags over the environment', () => {
    const env = { NATS_URL: 'nats://env:4222', NATS_USER: 'env-user', NATS_PASSWORD: 'env-pw', NATS_CA: '/env/ca.pem' };
    expect(natsOptionsFromFlags({ nats: 'nats://a:1, nats://b:2', user: 'flag-user', tlsCert: '/c.pem', tlsKey: '/k.pem' }, env)).toEqual({
      servers: ['nats://a:1', 'nats://b:2'],
      user: 'flag-user',
      pass: 'env-pw',
      tls: { caFile: '/env/ca.pem', certFile: '/c.pem', keyFile: '/k.pem' },
    });
  });

  it('uses NATS_URL and the NATS_* variables when no flag is given', () => {
    expect(natsOptionsFromFlags({ token: 't0k' }, { NATS_URL: 'nats://h:4222', NATS_CREDS: '/x.creds' })).toEqual({
      servers: 'nats://h:4222',
      credsFile: '/x.creds',
      token: 't0k',
    });
  });

  it('takes NATS_USER / NATS_PASSWORD / NATS_TOKEN with --nats even when NATS_URL is unset', () => {
    expect(
      natsOptionsFromFlags(
        { nats: 'nats://h:4222' },
        { NATS_USER: 'u', NATS_PASSWORD: 'p', NATS_TOKEN: 't', NATS_NKEY: '/u.nk', NATS_CERT: '/c.pem', NATS_KEY: '/k.pem' },
      ),
    ).toEqual({
      servers: 'nats://h:4222',
      user: 'u',
      pass: 'p',
      token: 't',
      nkeySeedFile: '/u.nk',
      tls: { certFile: '/c.pem', keyFile: '/k.pem' },
    });
  });

  it('without a server: undefined, and the credentials alone for the embedded default', () => {
    expect(natsOptionsFromFlags({ creds: '/x.creds' }, {})).toBeUndefined();
    expect(natsCredentialsFromFlags({ user: 'flag-user', tlsCa: '/ca.pem' }, { NATS_PASSWORD: 'env-pw', NATS_USER: 'env-user' })).toEqual({
      user: 'flag-user',
      pass: 'env-pw',
      tls: { caFile: '/ca.pem' },
    });
  });
});
