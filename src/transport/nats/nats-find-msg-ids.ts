import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { HEADERS } from '../../envelope/envelope.js';

// A fetch that returns nothing for this long means the scan has passed what is left of the stream.
const FETCH_EXPIRES_MS = 2_000;

/**
 * Which of `ids` `stream` holds as `Nats-Msg-Id`, reading headers only with an ordered consumer
 * from `sinceMs` (the server's clock) to the stream's last sequence as it is when called. Stops
 * early once every id is found, and when a fetch comes back empty (the last messages were removed
 * meanwhile).
 */
export async function natsFindMsgIds(
  js: JetStreamClient,
  jsm: JetStreamManager,
  stream: string,
  ids: ReadonlySet<string>,
  sinceMs: number,
): Promise<Set<string>> {
  const found = new Set<string>();
  const lastSeq = (await jsm.streams.info(stream)).state.last_seq;
  if (lastSeq === 0 || ids.size === 0) return found;
  const consumer = await js.consumers.get(stream, {
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: new Date(sinceMs).toISOString(),
    headers_only: true,
  });
  let done = false;
  while (!done) {
    let got = 0;
    for await (const m of await consumer.fetch({ max_messages: 1000, expires: FETCH_EXPIRES_MS })) {
      got += 1;
      const id = m.headers?.get(HEADERS.msgId);
      if (id !== undefined && ids.has(id)) found.add(id);
      if (m.seq >= lastSeq || found.size === ids.size) {
        done = true;
        break;
      }
    }
    if (got === 0) done = true;
  }
  return found;
}
