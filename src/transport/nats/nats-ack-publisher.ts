import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type PublishOptions } from '@nats-io/nats-core';
import { HEADERS } from '../../envelope/envelope.js';
import { AckWindow } from '../ack-window.js';
import type { AckPublisher, AckPublisherConfig } from '../transport.js';

const PUB_ACK_E = 0x65; // 'e' of `"error"` at byte 2, and of `true}` (duplicate) at the end
const decoder = new TextDecoder();
const EMPTY = new Uint8Array(0);
// What the client's MsgHdrs accepts: a name of printable ASCII without ':', a value without CR/LF.
const HEADER_NAME = /^[!-9;-~]+$/;
const CRLF = /[\r\n]/;

// Header blocks are written one after another into a slab: the client keeps each until its next
// socket write, so a block's bytes are never reused; a full slab is left to the collector.
const SLAB_BYTES = 64 * 1024;
const ID_HEAD = Buffer.from(`NATS/1.0\r\n${HEADERS.msgId}: `);
const ID_LINE = ID_HEAD.subarray('NATS/1.0'.length);
const END = Buffer.from('\r\n\r\n');

/**
 * The header block of one publish, in the wire form `MsgHdrsImpl.encode()` produces (`NATS/1.0`,
 * then `\r\n<name>: <trimmed value>` per header in insertion order, the message id last, then
 * `\r\n\r\n`), written straight into a slab: no `MsgHdrs` (a Map and an array per header), no
 * string concatenated per message when there are no other headers, and one small view per message.
 * The client only calls `encode()`.
 */
class WireHeaders {
  bytes: Uint8Array = EMPTY;
  private slab = Buffer.allocUnsafe(SLAB_BYTES);
  private used = 0;

  set(msgId: string, headers: Readonly<Record<string, string>> | undefined): void {
    let s: string | undefined;
    if (headers !== undefined) {
      for (const k in headers) {
        if (k === HEADERS.msgId) continue;
        const v = headers[k]!;
        if (!HEADER_NAME.test(k) || CRLF.test(v)) throw new TypeError(`header ${JSON.stringify(k)}: ${JSON.stringify(v)} is not a valid NATS header`);
        s = `${s ?? ''}\r\n${k}: ${v.trim()}`;
      }
    }
    if (CRLF.test(msgId)) throw new TypeError(`message id ${JSON.stringify(msgId)} is not a valid NATS header value`);
    // UTF-8 needs at most 3 bytes per UTF-16 unit.
    const max = ID_HEAD.length + 3 * (msgId.length + (s === undefined ? 0 : s.length)) + END.length;
    if (this.used + max > this.slab.length) {
      this.slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, max));
      this.used = 0;
    }
    const slab = this.slab;
    const start = this.used;
    let o = start;
    // TypedArray#set: Buffer#copy's argument checks cost more than these few bytes.
    if (s === undefined) {
      slab.set(ID_HEAD, o);
      o += ID_HEAD.length;
    } else {
      o += slab.write('NATS/1.0', o, 'latin1');
      o += slab.write(s, o);
      slab.set(ID_LINE, o);
      o += ID_LINE.length;
    }
    o += slab.write(msgId, o);
    slab.set(END, o);
    o += END.length;
    this.used = o;
    this.bytes = slab.subarray(start, o);
  }

  encode(): Uint8Array {
    return this.bytes;
  }
}

/**
 * The NATS {@link AckPublisher}: each message goes out with core
 * `nc.publish(subject, data, { reply, headers })` and JetStream's publish acks are collected on
 * ONE wildcard inbox subscription (`<inbox>.<ackId>`), instead of `js.publish()`, which builds an
 * Error and a Promise per call (about half the rate on a 2-core machine). The ack's JSON is not
 * parsed: an error ack has `"error"` at byte 2 and a duplicate ends in `true}`, which is all the
 * window needs. A batch published in one synchronous loop lets the client coalesce socket writes.
 * One headers object and one options object serve every send (the client reads them synchronously).
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
    const headers = new WireHeaders();
    const options: PublishOptions = { reply: '', headers: headers as unknown as MsgHdrs };
    return {
      send: (m, id) => {
        headers.set(m.msgId, m.headers);
        options.reply = `${prefix}.${id}`;
        nc.publish(m.subject, m.data, options);
      },
      close: () => {
        watching = false;
        (status as { stop?: () => void }).stop?.();
        sub.unsubscribe();
      },
    };
  });
}
