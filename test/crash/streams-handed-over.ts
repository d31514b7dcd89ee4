import { AckPolicy, type JetStreamManager } from '@nats-io/jetstream';

/**
 * Every input of `streams` is handed over: each stream has an acknowledging consumer, and each
 * has nothing left to deliver and nothing awaiting its ack: a crash child's sources receive no
 * more (a filtered consumer counts only what its filter selects; an ordered read's, which
 * acknowledges nothing, is left out). False while the server is down.
 */
export async function streamsHandedOver(jsm: JetStreamManager, streams: readonly string[]): Promise<boolean> {
  try {
    for (const stream of streams) {
      let consumers = 0;
      for await (const ci of jsm.consumers.list(stream)) {
        if (ci.config.ack_policy === AckPolicy.None) continue;
        consumers++;
        if (ci.num_pending > 0 || ci.num_ack_pending > 0) return false;
      }
      if (consumers === 0) return false;
    }
    return true;
  } catch {
    return false;
  }
}
