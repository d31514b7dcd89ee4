import { describe, expect, it } from 'vitest';
import { LocalTransport } from '../../../src/transport/local-transport.js';
import { runTransportContract } from './transport-contract.js';

runTransportContract('LocalTransport', async () => {
  const transport = new LocalTransport({ name: 'contract' });
  return { transport, dispose: () => transport.close() };
});

describe('LocalTransport', () => {
  it('is local and not durable', () => {
    const t = new LocalTransport({ keepAlive: false });
    expect(t.kind).toBe('local');
    expect(t.durable).toBe(false);
  });
});
