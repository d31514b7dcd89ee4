import { firstValueFrom, takeWhile, toArray } from 'rxjs';
import type { StreamMessage, Transport } from '../../src/transport/transport.js';
import { DeliverPolicy, jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';

/** Every message of `stream` up to its last sequence as it is now, in order (ordered consumer). */
export async function readStream(transport: Pick<Transport, 'streamState' | 'consume'>, stream: string): Promise<StreamMessage[]> {
  const { lastSeq, messages } = await transport.streamState(stream);
  if (messages === 0) return [];
  return firstValueFrom(
    transport.consume({ stream }).pipe(
      takeWhile((m) => m.seq < lastSeq, true),
      toArray(),
    ),
  );
}

/**
 * Reads a whole JetStream stream, up to its last sequence at the time of the call, with an
 * ordered consumer, mapping each message with `decode`. The crash tests read their output
 * streams back with it to count what was published.
 */
export async function readStreamDecoded<T>(nc: NatsConnection, stream: string, decode: (m: JsMsg) => T): Promise<T[]> {
  const last = (await (await jetstreamManager(nc)).streams.info(stream)).state.last_seq;
  const out: T[] = [];
  if (last === 0) return out;
  const consumer = await jetstream(nc).consumers.get(stream, { deliver_policy: DeliverPolicy.All });
  let seen = 0;
  while (seen < last) {
    let got = 0;
    for await (const m of await consumer.fetch({ max_messages: Math.min(5000, last - seen), expires: 2000 })) {
      got += 1;
      seen = m.seq;
      out.push(decode(m));
      if (m.seq >= last) break;
    }
    if (got === 0) break;
  }
  return out;
}
