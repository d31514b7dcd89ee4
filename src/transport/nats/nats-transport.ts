import {
  DeliverPolicy,
  DiscardPolicy,
  jetstream,
  JetStreamApiCodes,
  JetStreamApiError,
  jetstreamManager,
  StorageType,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type StreamConfig as NatsStreamConfig,
} from '@nats-io/jetstream';
import { millis, nanos, type NatsConnection, type Status } from '@nats-io/nats-core';
import { Observable } from 'rxjs';
import type { Envelope } from '../../envelope/envelope.js';
import { TransportError } from '../../errors.js';
import { fromNatsError } from './from-nats-error.js';
import { natsAckPublisher } from './nats-ack-publisher.js';
import { redactUrl, type NatsConnectOptions } from './nats-connect-options.js';
import { ensureDurableConsumer } from './nats-durable-consumer.js';
import { natsFindMsgIds } from './nats-find-msg-ids.js';
import { natsCoreEnvelope } from './nats-core-envelope.js';
import { toNatsHeaders } from './nats-headers.js';
import { NatsOrderedReader } from './nats-ordered-reader.js';
import { deliveryOf, NatsStreamMessage } from './nats-stream-message.js';
import { hasWildcard, validateSubject } from '../subject.js';
import { openNatsConnection } from './open-nats-connection.js';
import type {
  AckPublisher,
  AckPublisherConfig,
  ConnectionEvent,
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
  TRANSPORT_DEFAULTS,
  validateRequestOptions,
  validateOrderedReadOptions,
  validateStreamConfig,
  validateSubscribeOptions,
  type ResolvedConsumeOptions,
} from '../validate-transport-options.js';

/**
 * The real broker: core NATS and JetStream through the v3 client. `nc` and `js` are exposed for
 * code that needs the client directly; `jsm()` gives the JetStream manager. Sluice's own code
 * (the exactly-once engine, actors, durable batches) uses only the {@link Transport} methods.
 *
 * Each subscriber of a `subscribe` or `consume` Observable gets its own NATS subscription or
 * consumer, removed when it unsubscribes. Client errors are mapped to Sluice's
 * (`NoRespondersError`, `RequestTimeoutError`, else `TransportError` with the client's error as
 * `cause`). `close()` drains: messages already received are handed on, then the connection closes.
 *
 * @example
 * const t = await NatsTransport.connect({ servers: 'nats://127.0.0.1:4222' });
 * await t.ensureStream({ name: 'ORDERS', subjects: ['shop.orders.>'] });
 * await t.publishDurable('shop.orders.created', bytes, { msgId: 'order-42' });
 * await t.close();
 */
export class NatsTransport implements Transport {
  readonly kind = 'nats' as const;
  readonly durable = true;
  readonly js: JetStreamClient;
  private readonly label: string;
  private jsmPromise: Promise<JetStreamManager> | undefined;
  private readonly closeHooks = new Set<() => void>();
  private readonly validSubjects = new Set<string>();
  private closePromise: Promise<void> | undefined;

  /** Wraps an open connection, which this transport then owns (and drains on `close`). */
  constructor(
    readonly nc: NatsConnection,
    options: { name?: string | undefined } = {},
  ) {
    this.label = `NatsTransport(${options.name ?? nc.getServer()})`;
    this.js = jetstream(nc);
  }

  /**
   * Connects with `noAsyncTraces: true` and reconnecting forever unless told otherwise.
   * @throws InvalidConfigError for bad options or unreadable files; TransportError when the
   * server cannot be reached or refuses the credentials (the message never contains secrets).
   */
  static async connect(options: NatsConnectOptions): Promise<NatsTransport> {
    return new NatsTransport(await openNatsConnection(options), { name: options.name });
  }

  /** The JetStream manager, created on first use. */
  jsm(): Promise<JetStreamManager> {
    this.jsmPromise ??= jetstreamManager(this.nc).catch((err: unknown) => {
      this.jsmPromise = undefined;
      throw fromNatsError(err, { transport: this.label, operation: 'jetstreamManager' });
    });
    return this.jsmPromise;
  }

  publish(subject: string, data: Uint8Array, options?: PublishOptions): void {
    this.checkPublishSubject(subject);
    if (options === undefined) {
      try {
        this.nc.publish(subject, data);
      } catch (err) {
        throw fromNatsError(err, { transport: this.label, operation: 'publish' });
      }
      return;
    }
    if (options.reply !== undefined) validateSubject(options.reply, { wildcards: false });
    const headers = toNatsHeaders(options.headers);
    try {
      this.nc.publish(subject, data, headers === undefined && options.reply === undefined ? undefined : { headers, reply: options.reply });
    } catch (err) {
      throw fromNatsError(err, { transport: this.label, operation: 'publish' });
    }
  }

  subscribe(subject: string, options: SubscribeOptions = {}): Observable<Envelope<Uint8Array>> {
    validateSubject(subject, { wildcards: true });
    validateSubscribeOptions(this.label, options);
    // Without wildcards every message's subject is this one: no need to decode it from the wire.
    const fixedSubject = hasWildcard(subject) ? undefined : subject;
    return new Observable<Envelope<Uint8Array>>((subscriber) => {
      try {
        const sub = this.nc.subscribe(subject, {
          ...(options.queue !== undefined ? { queue: options.queue } : {}),
          callback: (err, msg) => {
            if (err !== null) subscriber.error(fromNatsError(err, { transport: this.label, operation: 'subscribe' }));
            else subscriber.next(natsCoreEnvelope(msg, fixedSubject));
          },
        });
        void sub.closed.then((err) => {
          if (err instanceof Error) subscriber.error(fromNatsError(err, { transport: this.label, operation: 'subscribe' }));
          else subscriber.complete();
        });
        return () => sub.unsubscribe();
      } catch (err) {
        subscriber.error(fromNatsError(err, { transport: this.label, operation: 'subscribe' }));
        return undefined;
      }
    });
  }

  async request(subject: string, data: Uint8Array, options: RequestOptions): Promise<Envelope<Uint8Array>> {
    validateSubject(subject, { wildcards: false });
    validateRequestOptions(this.label, options);
    const headers = toNatsHeaders(options.headers);
    try {
      const msg = await this.nc.request(subject, data, { timeout: options.timeoutMs, ...(headers !== undefined ? { headers } : {}) });
      return natsCoreEnvelope(msg);
    } catch (err) {
      throw fromNatsError(err, { transport: this.label, operation: 'request', subject, timeoutMs: options.timeoutMs });
    }
  }

  async flush(): Promise<void> {
    try {
      await this.nc.flush();
    } catch (err) {
      throw fromNatsError(err, { transport: this.label, operation: 'flush' });
    }
  }

  async ensureStream(config: StreamConfig): Promise<void> {
    validateStreamConfig(this.label, config);
    const jsm = await this.jsm();
    // Only what the caller set is applied to an existing stream; storage cannot change after creation.
    const explicit: Partial<NatsStreamConfig> = {
      ...(config.duplicateWindowMs !== undefined ? { duplicate_window: nanos(config.duplicateWindowMs) } : {}),
      ...(config.maxAgeMs !== undefined ? { max_age: nanos(config.maxAgeMs) } : {}),
      ...(config.maxMessages !== undefined ? { max_msgs: config.maxMessages } : {}),
      ...(config.maxBytes !== undefined ? { max_bytes: config.maxBytes } : {}),
    };
    try {
      const existing = await this.streamInfoOrUndefined(jsm, config.name);
      if (existing === undefined) {
        await jsm.streams.add({
          name: config.name,
          subjects: [...config.subjects],
          storage: config.storage === 'memory' ? StorageType.Memory : StorageType.File,
          discard: DiscardPolicy.Old,
          duplicate_window: nanos(TRANSPORT_DEFAULTS.duplicateWindowMs),
          ...explicit,
        });
        return;
      }
      const missing = config.subjects.filter((s) => !existing.subjects.includes(s));
      const changed = Object.entries(explicit).some(([k, v]) => existing[k as keyof NatsStreamConfig] !== v);
      if (missing.length === 0 && !changed) return;
      await jsm.streams.update(config.name, { ...existing, ...explicit, subjects: [...existing.subjects, ...missing] });
    } catch (err) {
      throw fromNatsError(err, { transport: this.label, operation: `ensureStream '${config.name}'` });
    }
  }

  async publishDurable(subject: string, data: Uint8Array, options: DurablePublishOptions = {}): Promise<PubAck> {
    validateSubject(subject, { wildcards: false });
    const headers = toNatsHeaders(options.headers);
    try {
      const ack = await this.js.publish(subject, data, {
        timeout: options.timeoutMs ?? TRANSPORT_DEFAULTS.publishTimeoutMs,
        ...(options.msgId !== undefined ? { msgID: options.msgId } : {}),
        ...(headers !== undefined ? { headers } : {}),
      });
      return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate };
    } catch (err) {
      const mapped = fromNatsError(err, {
        transport: this.label,
        operation: 'publishDurable',
        subject,
        timeoutMs: options.timeoutMs ?? TRANSPORT_DEFAULTS.publishTimeoutMs,
      });
      if (mapped.name === 'NoRespondersError') {
        throw new TransportError(this.label, 'publishDurable', `no stream captures subject '${subject}'`, { cause: err });
      }
      throw mapped;
    }
  }

  consume(options: ConsumeOptions): Observable<StreamMessage> {
    const resolved = resolveConsumeOptions(this.label, options);
    return new Observable<StreamMessage>((subscriber) => {
      let messages: ConsumerMessages | undefined;
      let stopped = false;
      const stop = (): void => {
        stopped = true;
        this.closeHooks.delete(onClose);
        void messages?.close();
      };
      const onClose = (): void => {
        stop();
        subscriber.complete();
      };
      this.closeHooks.add(onClose);
      const toMessage =
        resolved.durableName === undefined
          ? (m: JsMsg): StreamMessage => new NatsStreamMessage(m, resolved.stream, deliveryOf(m).streamSequence, 1, false)
          : (m: JsMsg): StreamMessage => {
              const info = deliveryOf(m);
              return new NatsStreamMessage(m, info.stream, info.streamSequence, info.deliveryCount, true);
            };
      void (async () => {
        const consumer = await this.consumerFor(resolved);
        if (stopped) return;
        messages = await consumer.consume({
          max_messages: resolved.maxInFlight,
          callback: (m) => subscriber.next(toMessage(m)),
        });
        if (stopped) return void messages.close();
        const err = await messages.closed();
        if (err instanceof Error && !stopped) subscriber.error(fromNatsError(err, { transport: this.label, operation: `consume '${resolved.stream}'` }));
        else subscriber.complete();
      })().catch((err: unknown) => {
        if (!stopped) subscriber.error(fromNatsError(err, { transport: this.label, operation: `consume '${resolved.stream}'` }));
      });
      return stop;
    });
  }

  async streamState(stream: string): Promise<StreamState> {
    const jsm = await this.jsm();
    try {
      const { state } = await jsm.streams.info(stream);
      return { messages: state.messages, firstSeq: state.first_seq, lastSeq: state.last_seq };
    } catch (err) {
      throw fromNatsError(err, { transport: this.label, operation: `streamState '${stream}'` });
    }
  }

  async consumerState(stream: string, durableName: string): Promise<ConsumerState | undefined> {
    const jsm = await this.jsm();
    try {
      const info = await jsm.consumers.info(stream, durableName);
      return { pending: info.num_pending, ackPending: info.num_ack_pending, redelivered: info.num_redelivered };
    } catch (err) {
      if (err instanceof JetStreamApiError && (err.code === JetStreamApiCodes.ConsumerNotFound || err.code === JetStreamApiCodes.StreamNotFound))
        return undefined;
      throw fromNatsError(err, { transport: this.label, operation: `consumerState '${stream}' '${durableName}'` });
    }
  }

  async findStream(subject: string): Promise<StreamInfo | undefined> {
    validateSubject(subject, { wildcards: false });
    const jsm = await this.jsm();
    try {
      const name = await jsm.streams.find(subject).catch((err: unknown) => {
        if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return undefined;
        throw err;
      });
      if (name === undefined) return undefined;
      const { config, state } = await jsm.streams.info(name);
      return {
        name,
        subjects: config.subjects ?? [],
        duplicateWindowMs: millis(config.duplicate_window ?? 0),
        messages: state.messages,
        firstSeq: state.first_seq,
        lastSeq: state.last_seq,
      };
    } catch (err) {
      throw fromNatsError(err, { transport: this.label, operation: `findStream '${subject}'` });
    }
  }

  async findMsgIds(stream: string, ids: ReadonlySet<string>, options: { sinceMs: number }): Promise<Set<string>> {
    const jsm = await this.jsm();
    try {
      return await natsFindMsgIds(this.js, jsm, stream, ids, options.sinceMs);
    } catch (err) {
      throw fromNatsError(err, { transport: this.label, operation: `findMsgIds '${stream}'` });
    }
  }

  async readOrdered(options: OrderedReadOptions): Promise<OrderedReader> {
    validateOrderedReadOptions(this.label, options);
    const reader = new NatsOrderedReader(this.nc, await this.jsm(), options);
    try {
      await reader.start();
    } catch (err) {
      await reader.close();
      throw fromNatsError(err, { transport: this.label, operation: `readOrdered '${options.stream}'` });
    }
    return reader;
  }

  ackPublisher<T>(config: AckPublisherConfig<T>): AckPublisher<T> {
    return natsAckPublisher(this.nc, config);
  }

  /** The connected server's `max_payload`; Infinity before the first connection. */
  get maxPayloadBytes(): number {
    return this.nc.info?.max_payload ?? Infinity;
  }

  async closed(): Promise<Error | undefined> {
    const err = await this.nc.closed();
    return err instanceof Error ? err : undefined;
  }

  /** From the client's status stream: each outage as one 'disconnected' and, once back, one 'reconnected'. */
  connectionEvents(): Observable<ConnectionEvent> {
    return new Observable<ConnectionEvent>((subscriber) => {
      const status = this.nc.status() as AsyncIterable<Status> & { stop?(): void };
      let downSince: number | undefined;
      void (async () => {
        for await (const s of status) {
          if (s.type === 'disconnect' && downSince === undefined) {
            downSince = Date.now();
            subscriber.next({ type: 'disconnected', server: redactUrl(s.server), atMs: downSince });
          } else if (s.type === 'reconnect' && downSince !== undefined) {
            const atMs = Date.now();
            subscriber.next({ type: 'reconnected', server: redactUrl(s.server), atMs, disconnectedAtMs: downSince, downMs: atMs - downSince });
            downSince = undefined;
          }
        }
        subscriber.complete();
      })().catch((err: unknown) => subscriber.error(err));
      return () => status.stop?.();
    });
  }

  /** Stops consumers, drains subscriptions and closes the connection. Idempotent. */
  close(): Promise<void> {
    this.closePromise ??= (async () => {
      for (const hook of [...this.closeHooks]) hook();
      if (this.nc.isClosed()) return;
      await this.nc.drain().catch((err: unknown) => {
        if (!this.nc.isClosed()) throw fromNatsError(err, { transport: this.label, operation: 'close' });
      });
    })();
    return this.closePromise;
  }

  /** An ordered consumer from `startSeq`, or the durable consumer created or updated to the options (see `ensureDurableConsumer`). */
  private async consumerFor(o: ResolvedConsumeOptions) {
    if (o.durableName === undefined) {
      return this.js.consumers.get(o.stream, {
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: o.startSeq,
        ...(o.filterSubject !== undefined ? { filter_subjects: o.filterSubject } : {}),
      });
    }
    await ensureDurableConsumer(await this.jsm(), { ...o, durableName: o.durableName });
    return this.js.consumers.get(o.stream, o.durableName);
  }

  /**
   * `validateSubject` once per subject: a topology publishes to a handful of subjects, and
   * checking each on every message cost as much as a tenth of forwarding it. Bounded, so subjects
   * made per message (`orders.<id>`) are still checked each time once the set is full.
   */
  private checkPublishSubject(subject: string): void {
    if (this.validSubjects.has(subject)) return;
    validateSubject(subject, { wildcards: false });
    if (this.validSubjects.size < MAX_REMEMBERED_SUBJECTS) this.validSubjects.add(subject);
  }

  private async streamInfoOrUndefined(jsm: JetStreamManager, name: string): Promise<NatsStreamConfig | undefined> {
    try {
      return (await jsm.streams.info(name)).config;
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return undefined;
      throw err;
    }
  }
}

const MAX_REMEMBERED_SUBJECTS = 1024;
