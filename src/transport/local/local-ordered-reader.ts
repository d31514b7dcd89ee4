import { HEADERS } from '../../envelope/envelope.js';
import { FifoBuffer } from '../fifo-buffer.js';
import type { LocalStream, StoredMessage } from './local-stream.js';
import { localStreamMessage } from './local-stream-message.js';
import type { OrderedMessage, OrderedReader, OrderedReadOptions } from '../transport.js';

// Messages looked at per `LocalStream.next` call when a filter skips many.
const MAX_SCAN = 4096;

/**
 * The in-process {@link OrderedReader}: copies messages of a {@link LocalStream} into its buffer
 * while the buffer has room (after `take`, and when the stream stores something), a microtask
 * later, so `onAvailable` never runs inside `take` or inside the publish that stored the message.
 * There is no server consumer to lose, so it never resets; messages discarded by the stream's
 * limits before they were read are skipped, as a NATS consumer skips them.
 *
 * Memory: at most `maxBuffered` messages besides the stream itself.
 */
export class LocalOrderedReader implements OrderedReader {
  private readonly buffer = new FifoBuffer<OrderedMessage>();
  private nextSeq: number;
  private lastSeq: number;
  private queued = false;
  private closed = false;
  private readonly offAppend: () => void;

  constructor(
    private readonly stream: LocalStream,
    private readonly o: OrderedReadOptions,
    private readonly onClose: () => void = () => undefined,
  ) {
    this.nextSeq = o.startSeq;
    this.lastSeq = o.startSeq - 1;
    this.offAppend = stream.onAppend(() => this.schedule());
    this.schedule();
  }

  get size(): number {
    return this.buffer.size;
  }

  get position(): number {
    return this.lastSeq;
  }

  take(max: number): OrderedMessage[] {
    const out = this.buffer.take(max);
    this.schedule();
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.offAppend();
    this.onClose();
  }

  private schedule(): void {
    if (this.queued || this.closed || this.size >= this.o.maxBuffered) return;
    this.queued = true;
    queueMicrotask(() => this.fill());
  }

  private fill(): void {
    this.queued = false;
    let added = 0;
    while (!this.closed && this.size < this.o.maxBuffered) {
      const { message, nextSeq } = this.stream.next(this.nextSeq, this.o.filterSubject, MAX_SCAN);
      this.nextSeq = nextSeq;
      if (message !== undefined) {
        this.buffer.push(orderedMessage(this.stream.name, message));
        this.lastSeq = message.seq;
        added += 1;
      } else if (this.stream.state().lastSeq < nextSeq) {
        break;
      }
    }
    if (added > 0) this.o.onAvailable();
  }
}

/** A stored message as an {@link OrderedMessage}: the event time defaults to when it was stored. */
function orderedMessage(stream: string, stored: StoredMessage): OrderedMessage {
  const header = stored.headers[HEADERS.eventTime];
  const parsed = header !== undefined ? Number(header) : NaN;
  return Object.assign(localStreamMessage(stream, stored, 1), { timestampMs: stored.time, eventTime: Number.isFinite(parsed) ? parsed : stored.time });
}
