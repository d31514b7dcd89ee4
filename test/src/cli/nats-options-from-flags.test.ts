import { describe, expect, it } from 'vitest';
import { natsOptionsFromFlags } from '../../../src/cli/nats-options-from-flags.js';
import { InvalidConfigError } from '../../../src/errors.js';

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
      servers: 'nats://h:4222', credsFile: '/x.creds', token: 't0k',
    });
  });

  it('refuses credentials without a server to use them on', () => {
    expect(() => natsOptionsFromFlags({ creds: '/x.creds' }, {})).toThrow(InvalidConfigError);
    expect(() => natsOptionsFromFlags({ tlsCa: '/ca.pem' }, {})).toThrow("'--tls-ca' needs a server: give --nats <url> or set NATS_URL");
  });
});
