import { Svcm, type ServiceStats } from '@nats-io/services';
import type { NatsTransport } from './nats-transport.js';
import { fromNatsError } from './from-nats-error.js';

/**
 * Asks every NATS micro service (or those named `name`) for its stats (`$SRV.STATS[.<name>]`)
 * and collects the answers: one per running instance. Waits up to `maxWaitMs` for the first
 * answer, then until answers stop coming for a moment. No answer is an empty list, not an error.
 */
export async function natsServiceStats(transport: NatsTransport, options: { name?: string | undefined; maxWaitMs: number }): Promise<ServiceStats[]> {
  const answers: ServiceStats[] = [];
  try {
    const client = new Svcm(transport.nc).client({ strategy: 'stall', maxWait: options.maxWaitMs });
    for await (const s of await client.stats(options.name ?? '')) answers.push(s);
  } catch (err) {
    // No responders is how an empty system answers a discovery request.
    if ((err as { code?: unknown }).code === '503' || (err as Error).name === 'NoRespondersError') return answers;
    throw fromNatsError(err, { transport: 'NatsTransport', operation: '$SRV.STATS' });
  }
  return answers;
}
