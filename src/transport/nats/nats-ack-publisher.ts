import { createInbox, headers as natsHeaders, type Msg, type NatsConnection } from '@nats-io/nats-core';
import { HEADERS } from '../../envelope/envelope.js';
import { AckWindow } from '../ack-window.js';
import type { AckPublisher, AckPublisherConfig } from '../transport.js';

const PUB_ACK_E = 0x65; // 'e' of `"error"` at byte 2, and of `true}` (duplicate) at the end
const decoder = new TextDecoder();

/**
 * The NATS {@link AckPublisher}: each message goes out with core
 * `nc.publish(subject, data, { reply, headers })` and JetStream's publish acks are collected on
 * ONE wildcard inbox subscription (`<inbox>.<ackId>`), instead of `js.publish()`, which builds an
 * Error and a Promise per call (about half the rate on a 2-core machine). The ack's JSON is not
 * parsed: an error ack has `"error"` at byte 2 and a duplicate ends in `true}`, which is all the
 * window needs. A batch published in one synchronous loop lets the client coalesce socket writes.
 *
 * Disconnects pause sending; the reconnect makes the window re-send everything in flight first.
 */
export function natsAckPublisher<T>(nc: NatsConnection, config: AckPublisherConfig<T>): AckPublisher<T> {
  return new AckWindow(config, (events) => {
    const prefix = createInbox();
    const idFrom = prefix.length + 1;
    const sub = nc.subscribe(`${prefix}.*`, {
      callback: (_err, msg: Msg) => {
        const id = Number(msg.subject.slice(idFrom));
        const d = msg.data;
        const noResponders = msg.headers?.code === 503;
        if (noResponders || d.length < 3 || d[2] === PUB_ACK_E) {
          events.reject(id, noResponders ? 'no stream captures the subject (503 no responders)' : decoder.decode(d));
        } else {
          events.ack(id, d[d.length - 2] === PUB_ACK_E);
        }
      },
    });
    const status = nc.status();
    let watching = true;
    void (async () => {
      for await (const s of status) {
        if (!watching) break;
        if (s.type === 'disconnect') events.pause();
        if (s.type === 'reconnect') events.resume();
      }
    })().catch(() => undefined);
    return {
      send: (m, id) => {
        const h = natsHeaders();
        if (m.headers !== undefined) for (const k in m.headers) h.set(k, m.headers[k]!);
        h.set(HEADERS.msgId, m.msgId);
        nc.publish(m.subject, m.data, { reply: `${prefix}.${id}`, headers: h });
      },
      close: () => {
        watching = false;
        (status as { stop?: () => void }).stop?.();
        sub.unsubscribe();
      },
    };
  });
}
