import { Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { askActor, resetActorKey } from '../../../src/actors/actor-client.js';
import type { Transport } from '../../../src/transport/transport.js';

/** A transport whose publishes fail (a broker that refuses them), counting its inbox subscriptions. */
function refusing() {
  const inboxes = { open: 0, opened: 0 };
  const transport: Pick<Transport, 'publishDurable' | 'subscribe'> = {
    publishDurable: () => Promise.reject(new Error('publish refused: no stream')),
    subscribe: () =>
      new Observable(() => {
        inboxes.open++;
        inboxes.opened++;
        return () => {
          inboxes.open--;
        };
      }),
  };
  return { transport, inboxes };
}

const address = { topology: 'shop', actor: 'stock' };

describe('actor client: a message that could not be sent', () => {
  it('askActor rejects with the publish error, closes its reply inbox at once and leaves nothing to reject later', async () => {
    const { transport, inboxes } = refusing();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await expect(askActor(transport, address, 'sku-1', { n: 1 }, { timeoutMs: 30 })).rejects.toThrow('publish refused: no stream');
      expect(inboxes).toEqual({ open: 0, opened: 1 });
      // Past the ask's timeout: its answer, awaited by nobody, must not surface as an unhandled rejection.
      await new Promise((r) => setTimeout(r, 80));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('resetActorKey waiting for its answer does the same', async () => {
    const { transport, inboxes } = refusing();
    await expect(resetActorKey(transport, address, 'sku-1', { timeoutMs: 30 })).rejects.toThrow('publish refused: no stream');
    expect(inboxes).toEqual({ open: 0, opened: 1 });
  });
});
