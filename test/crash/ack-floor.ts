import { AckPolicy, type JetStreamManager } from '@nats-io/jetstream';

/**
 * The lowest ack floor (stream sequence) of `stream`'s acknowledging consumers (an ordered read's
 * floor is only what it delivered): its inputs up to there are handed over. Where a crash test's
 * kill landed in the stream; 0 without such a consumer, undefined while the server cannot say.
 */
export async function ackFloor(jsm: JetStreamManager, stream: string): Promise<number | undefined> {
  try {
    let floor: number | undefined;
    for await (const ci of jsm.consumers.list(stream))
      if (ci.config.ack_policy !== AckPolicy.None) floor = Math.min(floor ?? Infinity, ci.ack_floor.stream_seq);
    return floor ?? 0;
  } catch {
    return undefined;
  }
}
