import { afterAll, beforeAll } from 'vitest';
import { LocalTransport } from '../../src/transport/local/local-transport.js';
import { NatsTransport } from '../../src/transport/nats/nats-transport.js';
import type { Transport } from '../../src/transport/transport.js';
import type { NatsServerHandle } from './nats-server.js';

/** Which transport a test runs on: NATS (a test server) or the in-process one. */
export type TransportKind = 'nats' | 'local';

/** Both kinds, for `describe.each(TRANSPORT_KINDS)`. */
export const TRANSPORT_KINDS: readonly TransportKind[] = ['nats', 'local'];

/** A `NatsTransport` connected to `server`, or a fresh `LocalTransport`. The caller closes it. */
export async function openTransport(kind: TransportKind, server: () => NatsServerHandle): Promise<Transport> {
  return kind === 'nats' ? NatsTransport.connect({ servers: server().url }) : new LocalTransport();
}

/** {@link openTransport} for a describe block: opened in `beforeAll`, closed in `afterAll`. */
export function useTransport(kind: TransportKind, server: () => NatsServerHandle): () => Transport {
  let transport: Transport | undefined;
  beforeAll(async () => {
    transport = await openTransport(kind, server);
  });
  afterAll(async () => {
    await transport?.close();
  });
  return () => {
    if (transport === undefined) throw new Error('useTransport: not open yet (call inside a test or hook)');
    return transport;
  };
}
