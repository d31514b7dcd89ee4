import { nuid } from '@nats-io/nats-core';
import { asyncScheduler, Observable, type SchedulerLike } from 'rxjs';
import type { Envelope } from '../../envelope/envelope.js';
import { HEADERS } from '../../envelope/envelope.js';
import { makeEnvelope } from '../../envelope/make-envelope.js';
import { InvalidConfigError, NoRespondersError, RequestTimeoutError, TransportError } from '../../errors.js';
import { AckWindow } from '../ack-window.js';
import { LocalDurableConsumer } from './local-durable-consumer.js';
import { LocalRouter, type LocalSub } from './local-router.js';
import { localOrderedConsume } from './local-ordered-consume.js';
import { LocalOrderedReader } from './local-ordered-reader.js';
import { LocalStream } from './local-stream.js';
import { subjectsOverlap, validateSubject } from '../subject.js';
import type {
  AckPublisher,
  AckPublisherConfig,
  ConsumeOptions,
  ConsumerState,
  DurablePublishOptions,
  OrderedReader,
  OrderedReadOptions,
  PubAck,
  PublishOptions,
  RequestOptions,
  StreamConfig,
  StreamInfo,
  StreamMessage,
  StreamState,
  SubscribeOptions,
  Transport,
} from '../transport.js';
import {
  resolveConsumeOptions,
  validateOrderedReadOptions,
  validateRequestOptions,
  validateStreamConfig,
  validateSubscribeOptions,
} from '../validate-transport-options.js';

/** Options for {@link LocalTransport}. */
export interface LocalTransportOptions {
  /** Name used in errors and logs. Default 'local'. */
  name?: string | undefined;
  /**
   * Clock and timers for request timeouts, ack waits, nak delays, duplicate windows and
   * `maxAgeMs`. Default `asyncScheduler`; tests may pass a virtual-time scheduler.
   */
  scheduler?: SchedulerLike | undefined;
  /** Keep the Node process alive while open, as a NATS socket does. Default true. */
  keepAlive?: boolean | undefined;
  /**
   * Largest payload accepted, bytes. Default 1048576, nats-server's default `max_payload`, so a
   * message too big for production fails here too instead of only after deployment.
   */
  maxPayloadBytes?: number | undefined;
}

interface Delivery {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  readonly reply: string | undefined;
  readonly targets: readonly LocalSub[];
}

/** Deliveries per event-loop turn before yielding, so a publish storm cannot starve I/O. */
const DRAIN_BATCH = 4096;
const EMPTY_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * The in-process transport: the embedded fallback when no nats-server is configured or found.
 * Same subject semantics as NATS (`*` one token, `>` the rest), queue groups (each message to one
 * member per group, round-robin), request/reply with timeout and no-responders, headers, and an
 * in-memory JetStream: streams that capture matching publishes, `Nats-Msg-Id` dedup inside the
 * duplicate window, ordered and durable consumers with ack/nak/term and ack-wait redelivery, and
 * what the exactly-once engine uses (`readOrdered`, `ackPublisher`, `findStream`, `findMsgIds`),
 * so actors, durable timers and durable batches run on it too (exactly-once within the process).
 *
 * Delivery is asynchronous (a microtask after publishing, in batches) and in publish order, so
 * handlers that publish are never re-entered. Each receiver gets its own copy of the payload.
 *
 * Not guaranteed: durability (`durable` is false: streams and consumer positions live as long as
 * this object), anything across processes, and a bounded core delivery queue — a publisher that
 * never yields queues everything until it does, as an unflushed NATS client buffers.
 *
 * @example
 * const t = new LocalTransport();
 * t.subscribe('orders.*').subscribe((m) => console.log(m.subject));
 * t.publish('orders.created', new TextEncoder().encode('{}'));
 * await t.flush(); // delivered
 */
export class LocalTransport implements Transport {
  readonly kind = 'local' as const;
  readonly durable = false;
  readonly name: string;
  private readonly label: string;
  private readonly scheduler: SchedulerLike;
  /** The largest payload accepted, bytes (the `maxPayloadBytes` option). */
  readonly maxPayloadBytes: number;
  private readonly router = new LocalRouter();
  private queue: (Delivery | (() => void) | undefined)[] = [];
  private head = 0;
  private drainQueued = false;
  private readonly streams = new Map<string, LocalStream>();
  private readonly durables = new Map<string, LocalDurableConsumer>();
  private readonly stopHooks = new Set<() => void>();
  private readonly inboxPrefix = `_INBOX.${nuid.next()}`;
  private readonly requests = new Map<string, (reply: Envelope<Uint8Array>) => void>();
  private readonly requestFailers = new Set<(err: Error) => void>();
  private inboxSub: LocalSub | undefined;
  private requestCounter = 0;
  private keepAlive: ReturnType<typeof setInterval> | undefined;
  private closing = false;
  private closePromise: Promise<void> | undefined;
  private markClosed!: () => void;
  private readonly closedSignal = new Promise<undefined>((resolve) => (this.markClosed = () => resolve(undefined)));

  constructor(options: LocalTransportOptions = {}) {
    this.name = options.name ?? 'local';
    this.label = `LocalTransport(${this.name})`;
    this.scheduler = options.scheduler ?? asyncScheduler;
    this.maxPayloadBytes = options.maxPayloadBytes ?? 1024 * 1024;
    if (!(Number.isInteger(this.maxPayloadBytes) && this.maxPayloadBytes >= 0)) {
      throw new InvalidConfigError('LocalTransport', 'maxPayloadBytes', `must be an integer >= 0, got ${String(options.maxPayloadBytes)}`);
    }
    if (options.keepAlive !== false) this.keepAlive = setInterval(() => undefined, 2 ** 30);
  }

  publish(subject: string, data: Uint8Array, options: PublishOptions = {}): void {
    validateSubject(subject, { wildcards: false });
    if (options.reply !== undefined) validateSubject(options.reply, { wildcards: false });
    this.send('publish', subject, data, options.headers, options.reply);
  }

  subscribe(subject: string, options: SubscribeOptions = {}): Observable<Envelope<Uint8Array>> {
    validateSubject(subject, { wildcards: true });
    validateSubscribeOptions(this.label, options);
    return new Observable<Envelope<Uint8Array>>((subscriber) => {
      if (this.closing) {
        subscriber.error(this.closedError('subscribe'));
        return;
      }
      const sub: LocalSub = {
        pattern: subject,
        queue: options.queue,
        active: true,
        deliver: (envelope) => subscriber.next(envelope),
        complete: () => subscriber.complete(),
      };
      this.router.add(sub);
      return () => this.router.remove(sub);
    });
  }

  async request(subject: string, data: Uint8Array, options: RequestOptions): Promise<Envelope<Uint8Array>> {
    validateSubject(subject, { wildcards: false });
    validateRequestOptions(this.label, options);
    this.ensureOpen('request');
    const inbox = `${this.inboxPrefix}.${++this.requestCounter}`;
    this.inboxSub ??= this.addInboxSub();
    return new Promise<Envelope<Uint8Array>>((resolve, reject) => {
      const done = (): void => {
        timer.unsubscribe();
        this.requests.delete(inbox);
        this.requestFailers.delete(fail);
      };
      const fail = (err: Error): void => {
        done();
        reject(err);
      };
      const timer = this.scheduler.schedule(() => fail(new RequestTimeoutError(subject, options.timeoutMs)), options.timeoutMs);
      this.requests.set(inbox, (reply) => {
        done();
        resolve(reply);
      });
      this.requestFailers.add(fail);
      try {
        if (this.send('request', subject, data, options.headers, inbox) === 0) fail(new NoRespondersError(subject));
      } catch (err) {
        fail(err as Error);
      }
    });
  }

  /** Resolves once every message published so far has been handed to its subscribers. */
  flush(): Promise<void> {
    return new Promise((resolve) => this.enqueue(resolve));
  }

  async ensureStream(config: StreamConfig): Promise<void> {
    validateStreamConfig(this.label, config);
    this.ensureOpen('ensureStream');
    for (const other of this.streams.values()) {
      if (other.name === config.name) continue;
      for (const subject of config.subjects) {
        const clash = other.subjects.find((s) => subjectsOverlap(s, subject));
        if (clash !== undefined) {
          throw new TransportError(this.label, 'ensureStream', `subject '${subject}' of stream '${config.name}' overlaps '${clash}' of stream '${other.name}'`);
        }
      }
    }
    const existing = this.streams.get(config.name);
    if (existing !== undefined) existing.update(config);
    else this.streams.set(config.name, new LocalStream(config, () => this.scheduler.now()));
  }

  async publishDurable(subject: string, data: Uint8Array, options: DurablePublishOptions = {}): Promise<PubAck> {
    validateSubject(subject, { wildcards: false });
    this.ensureOpen('publishDurable');
    const stream = this.streamFor(subject);
    if (stream === undefined) throw new TransportError(this.label, 'publishDurable', `no stream captures subject '${subject}'`);
    const headers = options.msgId !== undefined ? { ...options.headers, [HEADERS.msgId]: options.msgId } : options.headers;
    let ack: PubAck | undefined;
    this.send('publishDurable', subject, data, headers, undefined, (a) => (ack = a));
    if (ack === undefined) throw new TransportError(this.label, 'publishDurable', `stream '${stream.name}' did not store the message`);
    return ack;
  }

  consume(options: ConsumeOptions): Observable<StreamMessage> {
    const resolved = resolveConsumeOptions(this.label, options);
    return new Observable<StreamMessage>((subscriber) => {
      const stream = this.streams.get(resolved.stream);
      if (this.closing) return subscriber.error(this.closedError('consume'));
      if (stream === undefined) return subscriber.error(new TransportError(this.label, 'consume', `stream '${resolved.stream}' not found`));
      if (resolved.durableName === undefined) {
        return localOrderedConsume(stream, { ...resolved, batch: Math.min(resolved.maxInFlight, 512) }, (stop) => {
          this.stopHooks.add(stop);
          return () => this.stopHooks.delete(stop);
        }).subscribe(subscriber);
      }
      const key = `${resolved.stream}/${resolved.durableName}`;
      let consumer = this.durables.get(key);
      if (consumer === undefined) {
        consumer = new LocalDurableConsumer(stream, resolved, this.scheduler);
        this.durables.set(key, consumer);
      } else {
        consumer.reconfigure(resolved);
      }
      return consumer.attach().subscribe(subscriber);
    });
  }

  async streamState(stream: string): Promise<StreamState> {
    return this.existingStream('streamState', stream).state();
  }

  async consumerState(stream: string, durableName: string): Promise<ConsumerState | undefined> {
    return this.durables.get(`${stream}/${durableName}`)?.state();
  }

  async findStream(subject: string): Promise<StreamInfo | undefined> {
    validateSubject(subject, { wildcards: false });
    this.ensureOpen('findStream');
    return this.streamFor(subject)?.info();
  }

  async findMsgIds(stream: string, ids: ReadonlySet<string>, options: { sinceMs: number }): Promise<Set<string>> {
    return this.existingStream('findMsgIds', stream).findMsgIds(ids, options.sinceMs);
  }

  async readOrdered(options: OrderedReadOptions): Promise<OrderedReader> {
    validateOrderedReadOptions(this.label, options);
    const stream = this.existingStream('readOrdered', options.stream);
    // Closed with the transport, like every consumer; forgotten when closed first.
    const stop = (): void => void reader.close();
    const reader = new LocalOrderedReader(stream, options, () => this.stopHooks.delete(stop));
    this.stopHooks.add(stop);
    return reader;
  }

  /** Stores each message at once; its ack follows asynchronously, in order with other deliveries. */
  ackPublisher<T>(config: AckPublisherConfig<T>): AckPublisher<T> {
    return new AckWindow({ ...config, scheduler: config.scheduler ?? this.scheduler }, (events) => ({
      send: (m, ackId) => {
        validateSubject(m.subject, { wildcards: false });
        let ack: PubAck | undefined;
        this.send('ackPublisher', m.subject, m.data, { ...m.headers, [HEADERS.msgId]: m.msgId }, undefined, (a) => (ack = a));
        this.enqueue(() => {
          if (ack !== undefined) events.ack(ackId, ack.duplicate);
          else events.reject(ackId, `no stream captures subject '${m.subject}'`);
        });
      },
      close: () => undefined,
    }));
  }

  closed(): Promise<Error | undefined> {
    return this.closedSignal;
  }

  /** Delivers what is queued, then completes every subscription and consumer. Idempotent. */
  close(): Promise<void> {
    this.closePromise ??= (async () => {
      this.closing = true;
      await new Promise<void>((resolve) => this.enqueue(resolve));
      for (const fail of [...this.requestFailers]) fail(this.closedError('request'));
      for (const sub of this.router.all()) sub.complete();
      for (const stop of [...this.stopHooks]) stop();
      for (const consumer of this.durables.values()) consumer.stop();
      if (this.keepAlive !== undefined) clearInterval(this.keepAlive);
      this.markClosed();
    })();
    return this.closePromise;
  }

  /**
   * Stores the message in the stream that captures its subject (deduplicating by
   * `Nats-Msg-Id`), queues it for matching subscribers, and answers a reply subject with the
   * stream's ack as JetStream does. Returns how many would receive it (a stream counts as one).
   */
  /**
   * Who would receive a message published on `subject` now: the number of matching subscriptions
   * and the stream capturing it, if any. For test drivers checking that input is read.
   */
  interestIn(subject: string): { subscribers: number; stream: string | undefined } {
    return { subscribers: this.router.targets(subject).length, stream: this.streamFor(subject)?.name };
  }

  private send(
    op: string,
    subject: string,
    data: Uint8Array,
    headers: Readonly<Record<string, string>> | undefined,
    reply: string | undefined,
    onAck?: (ack: PubAck) => void,
  ): number {
    this.ensureOpen(op);
    if (data.byteLength > this.maxPayloadBytes) {
      throw new TransportError(this.label, op, `payload of ${data.byteLength} bytes exceeds max_payload (${this.maxPayloadBytes})`);
    }
    const frozen = headers === undefined ? EMPTY_HEADERS : Object.freeze({ ...headers });
    const stream = this.streamFor(subject);
    const ack = stream?.append(subject, data.slice(), frozen);
    if (ack !== undefined) onAck?.(ack);
    const targets = this.router.targets(subject);
    if (targets.length > 0) this.enqueue({ subject, data: data.slice(), headers: frozen, reply, targets });
    if (ack !== undefined && reply !== undefined) {
      const body = new TextEncoder().encode(JSON.stringify(ack.duplicate ? ack : { stream: ack.stream, seq: ack.seq }));
      const replyTargets = this.router.targets(reply);
      if (replyTargets.length > 0) this.enqueue({ subject: reply, data: body, headers: EMPTY_HEADERS, reply: undefined, targets: replyTargets });
    }
    return targets.length + (stream !== undefined ? 1 : 0);
  }

  private enqueue(item: Delivery | (() => void)): void {
    this.queue.push(item);
    if (!this.drainQueued) {
      this.drainQueued = true;
      queueMicrotask(() => this.drain());
    }
  }

  private drain(): void {
    let handled = 0;
    while (this.head < this.queue.length) {
      if (handled++ >= DRAIN_BATCH) {
        setImmediate(() => this.drain());
        return;
      }
      const item = this.queue[this.head];
      this.queue[this.head++] = undefined;
      if (typeof item === 'function') item();
      else if (item !== undefined) this.deliver(item);
    }
    this.queue = [];
    this.head = 0;
    this.drainQueued = false;
  }

  private deliver(item: Delivery): void {
    let envelope: Envelope<Uint8Array> | undefined;
    for (const target of item.targets) {
      if (!target.active) continue;
      envelope =
        envelope === undefined
          ? makeEnvelope({ subject: item.subject, data: item.data, headers: item.headers, reply: item.reply, now: () => this.scheduler.now() })
          : { ...envelope, data: item.data.slice() };
      try {
        target.deliver(envelope);
      } catch (err) {
        // One failing receiver must not stop delivery to the others; surface it like RxJS does.
        setTimeout(() => {
          throw err;
        });
      }
    }
  }

  private existingStream(op: string, name: string): LocalStream {
    this.ensureOpen(op);
    const found = this.streams.get(name);
    if (found === undefined) throw new TransportError(this.label, op, `stream '${name}' not found`);
    return found;
  }

  private streamFor(subject: string): LocalStream | undefined {
    for (const stream of this.streams.values()) if (stream.captures(subject)) return stream;
    return undefined;
  }

  private addInboxSub(): LocalSub {
    const sub: LocalSub = {
      pattern: `${this.inboxPrefix}.*`,
      queue: undefined,
      active: true,
      deliver: (reply) => this.requests.get(reply.subject)?.(reply),
      complete: () => undefined,
    };
    this.router.add(sub);
    return sub;
  }

  private ensureOpen(op: string): void {
    if (this.closing) throw this.closedError(op);
  }

  private closedError(op: string): TransportError {
    return new TransportError(this.label, op, 'transport is closed');
  }
}
