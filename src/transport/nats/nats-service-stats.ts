import { Svcm, type ServiceStats } from '@nats-io/services';
import type { NatsTransport } from './nats-transport.js';
import { NoRespondersError } from '../../errors.js';
import { fromNatsError } from './from-nats-error.js';

/**
 * Asks every NATS micro service (or those named `name`) for its stats (`$SRV.STATS[.<name>]`)
 * and collects the answers that come within `maxWaitMs`: one per running instance. It waits the
 * whole time: a busy instance computing its stats may answer well after an idle one, and stopping
 * at the first pause would leave it out. No answer is an empty list, not an error.
 */
export async function natsServiceStats(transport: NatsTransport, options: { name?: string | undefined; maxWaitMs: number }): Promise<ServiceStats[]> {
  const answers: ServiceStats[] = [];
  try {
    const client = new Svcm(transport.nc).client({ strategy: 'timer', maxWait: options.maxWaitMs });
    for await (const s of await client.stats(options.name ?? '')) answers.push(s);
  } catch (err) {
    const subject = options.name !== undefined ? `$SRV.STATS.${options.name}` : '$SRV.STATS';
    const mapped = fromNatsError(err, { transport: 'NatsTransport', operation: 'service stats', subject });
    // No responders is how a system without such a service answers a discovery request.
    if (mapped instanceof NoRespondersError) return answers;
    throw mapped;
  }
  return answers;
}
