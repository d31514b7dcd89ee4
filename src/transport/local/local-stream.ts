import { HEADERS } from '../../envelope/envelope.js';
import { subjectMatches } from '../subject.js';
import type { PubAck, StreamConfig, StreamInfo, StreamState } from '../transport.js';
import { TRANSPORT_DEFAULTS } from '../validate-transport-options.js';

/** One message in a {@link LocalStream}. */
export interface StoredMessage {
  readonly seq: number;
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  /** Epoch ms when stored, for `maxAgeMs`. */
  readonly time: number;
}

/**
 * The in-memory log behind one stream of the local transport, with the JetStream rules that
 * matter to Sluice: sequences start at 1 and never repeat, `Nats-Msg-Id` duplicates inside the
 * window are dropped (acked with the original sequence), and the limits (`maxAgeMs`,
 * `maxMessages`, `maxBytes`) discard the oldest messages first. Because discards only ever remove
 * the head, stored sequences stay contiguous and a message is found by index.
 *
 * Memory: the stored messages (bounded by the limits, unbounded without them) plus one entry per
 * message id inside the duplicate window.
 */
export class LocalStream {
  readonly name: string;
  private subjectList: string[];
  private duplicateWindowMs: number;
  private maxAgeMs: number;
  private maxMessages: number;
  private maxBytes: number;
  /** log[head] holds sequence firstStored; entries before head are discarded and compacted away lazily. */
  private log: StoredMessage[] = [];
  private head = 0;
  private lastSeq = 0;
  private bytes = 0;
  /** Insertion-ordered, so expired ids are always at the front. */
  private readonly msgIds = new Map<string, { seq: number; time: number }>();
  private readonly appendListeners = new Set<() => void>();

  constructor(
    config: StreamConfig,
    private readonly now: () => number,
  ) {
    this.name = config.name;
    this.subjectList = [...config.subjects];
    this.duplicateWindowMs = config.duplicateWindowMs ?? TRANSPORT_DEFAULTS.duplicateWindowMs;
    this.maxAgeMs = config.maxAgeMs ?? 0;
    this.maxMessages = config.maxMessages ?? Infinity;
    this.maxBytes = config.maxBytes ?? Infinity;
  }

  get subjects(): readonly string[] {
    return this.subjectList;
  }

  captures(subject: string): boolean {
    return this.subjectList.some((pattern) => subjectMatches(pattern, subject));
  }

  /** Adds missing subjects and applies the limits that were given, as `ensureStream` does on NATS. */
  update(config: StreamConfig): void {
    for (const s of config.subjects) if (!this.subjectList.includes(s)) this.subjectList.push(s);
    if (config.duplicateWindowMs !== undefined) this.duplicateWindowMs = config.duplicateWindowMs;
    if (config.maxAgeMs !== undefined) this.maxAgeMs = config.maxAgeMs;
    if (config.maxMessages !== undefined) this.maxMessages = config.maxMessages;
    if (config.maxBytes !== undefined) this.maxBytes = config.maxBytes;
    this.enforceLimits();
  }

  /** Stores a message unless its `Nats-Msg-Id` was seen inside the duplicate window. */
  append(subject: string, data: Uint8Array, headers: Readonly<Record<string, string>>): PubAck {
    const time = this.now();
    this.expireMsgIds(time);
    const msgId = headers[HEADERS.msgId];
    if (msgId !== undefined) {
      const seen = this.msgIds.get(msgId);
      if (seen !== undefined) return { stream: this.name, seq: seen.seq, duplicate: true };
    }
    const seq = ++this.lastSeq;
    this.log.push({ seq, subject, data, headers, time });
    this.bytes += data.byteLength;
    if (msgId !== undefined && this.duplicateWindowMs > 0) this.msgIds.set(msgId, { seq, time });
    this.enforceLimits();
    for (const listener of this.appendListeners) listener();
    return { stream: this.name, seq, duplicate: false };
  }

  /** The stored message with this sequence, or undefined when it never existed or was discarded. */
  get(seq: number): StoredMessage | undefined {
    this.enforceLimits();
    const first = this.firstStoredSeq();
    if (first === undefined || seq < first || seq > this.lastSeq) return undefined;
    return this.log[this.head + (seq - first)];
  }

  /**
   * The first stored message at or after `fromSeq` matching `filter`, looking at no more than
   * `maxScan` messages; `nextSeq` is where the next scan should start either way, so a consumer
   * with a narrow filter never rescans what it skipped.
   */
  next(fromSeq: number, filter: string | undefined, maxScan = Infinity): { message?: StoredMessage; nextSeq: number } {
    this.enforceLimits();
    const first = this.firstStoredSeq();
    if (first === undefined) return { nextSeq: Math.max(fromSeq, this.lastSeq + 1) };
    let seq = Math.max(fromSeq, first);
    for (let scanned = 0; seq <= this.lastSeq && scanned < maxScan; seq++, scanned++) {
      const message = this.log[this.head + (seq - first)];
      if (message !== undefined && (filter === undefined || subjectMatches(filter, message.subject))) {
        return { message, nextSeq: seq + 1 };
      }
    }
    return { nextSeq: seq };
  }

  /** Same numbers NATS reports: an empty new stream is 0/0; after discards, first = last + 1. */
  state(): StreamState {
    this.enforceLimits();
    const count = this.log.length - this.head;
    const first = this.firstStoredSeq() ?? (this.lastSeq === 0 ? 0 : this.lastSeq + 1);
    return { messages: count, firstSeq: first, lastSeq: this.lastSeq };
  }

  /** The stream's subjects, duplicate window and state, as `Transport.findStream` reports them. */
  info(): StreamInfo {
    return { name: this.name, subjects: [...this.subjectList], duplicateWindowMs: this.duplicateWindowMs, ...this.state() };
  }

  /** Which of `ids` are the `Nats-Msg-Id` of a message stored at or after `sinceMs`. */
  findMsgIds(ids: ReadonlySet<string>, sinceMs: number): Set<string> {
    this.enforceLimits();
    const found = new Set<string>();
    // Newest first: messages are stored in time order, so the scan ends at the first older one.
    for (let i = this.log.length - 1; i >= this.head && found.size < ids.size; i--) {
      const m = this.log[i]!;
      if (m.time < sinceMs) break;
      const id = m.headers[HEADERS.msgId];
      if (id !== undefined && ids.has(id)) found.add(id);
    }
    return found;
  }

  /** Calls `listener` after every stored message; returns the unsubscribe function. */
  onAppend(listener: () => void): () => void {
    this.appendListeners.add(listener);
    return () => this.appendListeners.delete(listener);
  }

  private firstStoredSeq(): number | undefined {
    return this.log[this.head]?.seq;
  }

  private enforceLimits(): void {
    const cutoff = this.maxAgeMs > 0 ? this.now() - this.maxAgeMs : -Infinity;
    while (this.head < this.log.length) {
      const oldest = this.log[this.head];
      if (oldest === undefined) break;
      const count = this.log.length - this.head;
      if (count <= this.maxMessages && this.bytes <= this.maxBytes && oldest.time > cutoff) break;
      this.bytes -= oldest.data.byteLength;
      this.head++;
    }
    // Compact once the discarded prefix dominates, so discarding stays O(1) amortised.
    if (this.head > 1024 && this.head * 2 > this.log.length) {
      this.log = this.log.slice(this.head);
      this.head = 0;
    }
  }

  private expireMsgIds(now: number): void {
    const cutoff = now - this.duplicateWindowMs;
    for (const [id, entry] of this.msgIds) {
      if (entry.time > cutoff) break;
      this.msgIds.delete(id);
    }
  }
}
