import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { NatsServerNotFoundError, startTestNatsServer, useNatsServer } from './nats-server.js';

describe('test nats-server helper', () => {
  const server = useNatsServer();

  it('starts a server with JetStream on a free port, not 4222', async () => {
    expect(server().port).not.toBe(4222);
    const nc = await connect({ servers: server().url });
    try {
      expect(nc.info?.jetstream).toBe(true);
    } finally {
      await nc.close();
    }
  });

  it('restarts on the same port after SIGKILL and keeps the store', async () => {
    const s = await startTestNatsServer();
    try {
      const port = s.port;
      await s.kill();
      await s.restart();
      expect(s.port).toBe(port);
      const nc = await connect({ servers: s.url });
      await nc.close();
    } finally {
      await s.dispose();
    }
  });

  it('says how to install nats-server when the binary is missing', async () => {
    await expect(startTestNatsServer({ binary: 'nats-server-that-does-not-exist' })).rejects.toBeInstanceOf(NatsServerNotFoundError);
  });
});
