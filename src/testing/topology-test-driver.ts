import { pino, type Logger } from 'pino';
import type { SchedulerLike, Subscription } from 'rxjs';
import type { DeadLetterRecord } from '../dead-letter/dead-letter-record.js';
import type { Codec } from '../codec/codec.js';
import { decodeEnvelope } from '../codec/decode-envelope.js';
import { msgpackCodec } from '../codec/msgpack-codec.js';
import { HEADERS, type Envelope } from '../envelope/envelope.js';
import { decodeDeadLetter, deadLetterSubject } from '../runtime/dead-letter.js';
import type { Topology } from '../runtime/define-topology.js';
import { runTopology, type RunningTopology, type TopologyExit } from '../runtime/run-topology.js';
import { LocalTransport } from '../transport/local-transport.js';
import { subjectMatches, validateSubject } from '../transport/subject.js';

/** Options for {@link startTestDriver}. */
export interface TestDriverOptions {
  /** Default: a silent logger. Pass `pino({ level: 'debug' })` to see the runtime's logs. */
  logger?: Logger | undefined;
  /** Scheduler for the topology's timers and the transport's clock. Default `asyncScheduler`. */
  scheduler?: SchedulerLike | undefined;
  /** Messages recorded at most; the oldest are dropped past it. Default 100000. */
  maxRecorded?: number | undefined;
}

/** Publishes test input on one subject. */
export interface TestInput<T> {
  /** Encodes (msgpack unless `codec` is given) and publishes `value`. */
  publish(value: T, options?: { headers?: Record<string, string>; codec?: Codec }): void;
  /** Publishes bytes as they are, e.g. a malformed payload. */
  publishBytes(bytes: Uint8Array, headers?: Record<string, string>): void;
}

/** Reads what the topology published on a subject or pattern. */
export interface TestOutput<T> {
  /**
   * Waits until the topology is idle, then returns and forgets the decoded values the topology
   * published so far (what the test published through `input` is not included).
   */
  readAll(): Promise<T[]>;
  /** As {@link readAll}, with subjects and headers. */
  readEnvelopes(): Promise<Envelope<T>[]>;
}

/** A topology running on an in-process transport, for tests. */
export interface TopologyTestDriver {
  readonly transport: LocalTransport;
  readonly running: RunningTopology;
  input<T = unknown>(subject: string): TestInput<T>;
  output<T = unknown>(pattern: string): TestOutput<T>;
  /** Waits until idle, then returns and forgets the dead letters recorded so far. */
  deadLetters(): Promise<DeadLetterRecord[]>;
  /** Resolves once all published messages are delivered and the topology has stopped publishing. */
  settle(): Promise<void>;
  /** Drains and stops the topology, then closes the transport. */
  stop(): Promise<TopologyExit>;
}

/**
 * Runs a topology on a fresh `LocalTransport` and records every message published on it, so a
 * test can feed input and read output without a broker (the wiring against a real nats-server
 * deserves one test of its own).
 *
 * @example
 * ```ts
 * const driver = await startTestDriver(createOrderRouting({ ratePerSec: 0 }));
 * driver.input<Order>('shop.orders.web').publish(order);
 * expect(await driver.output<Order>(SUBJECTS.priority).readAll()).toEqual([order]);
 * await driver.stop();
 * ```
 */
export async function startTestDriver(topology: Topology, options: TestDriverOptions = {}): Promise<TopologyTestDriver> {
  const transport = new LocalTransport({ name: `test:${topology.name}`, scheduler: options.scheduler });
  const maxRecorded = options.maxRecorded ?? 100_000;
  let recorded: Envelope<Uint8Array>[] = [];
  let seen = 0;
  // What the test itself published is not output. The transport delivers in publish order, so
  // each input reaches the recorder at the head of this queue; equal bytes on the same subject
  // are indistinguishable anyway.
  const inputs: Array<{ subject: string; bytes: Uint8Array }> = [];
  const sendInput = (subject: string, bytes: Uint8Array, headers?: Record<string, string>) => {
    inputs.push({ subject, bytes: bytes.slice() });
    transport.publish(subject, bytes, { headers });
  };
  // Subscribed before the topology starts, so nothing it publishes is missed.
  const recorder: Subscription = transport.subscribe('>').subscribe((env) => {
    seen += 1;
    const head = inputs[0];
    if (head !== undefined && head.subject === env.subject && sameBytes(head.bytes, env.data)) {
      inputs.shift();
      return;
    }
    recorded.push(env);
    if (recorded.length > maxRecorded) recorded.shift();
  });
  const running = await runTopology(topology, {
    transport,
    logger: options.logger ?? pino({ level: 'silent' }),
    scheduler: options.scheduler,
    report: () => undefined,
    closeTransport: true,
  });

  const settle = async (): Promise<void> => {
    // Idle = two flushes in a row during which nothing new was published.
    let before = -1;
    for (let rounds = 0; rounds < 1000 && before !== seen; rounds++) {
      before = seen;
      await transport.flush();
      await new Promise((resolve) => setImmediate(resolve));
      await transport.flush();
    }
  };

  const take = (pattern: string): Envelope<Uint8Array>[] => {
    const taken = recorded.filter((e) => subjectMatches(pattern, e.subject));
    recorded = recorded.filter((e) => !subjectMatches(pattern, e.subject));
    return taken;
  };

  return {
    transport,
    running,
    input<T>(subject: string): TestInput<T> {
      validateSubject(subject, { wildcards: false });
      return {
        publish: (value, opts = {}) => {
          const codec = opts.codec ?? msgpackCodec;
          sendInput(subject, codec.encode(value), { ...opts.headers, [HEADERS.contentType]: codec.contentType });
        },
        publishBytes: (bytes, headers) => sendInput(subject, bytes, headers),
      };
    },
    output<T>(pattern: string): TestOutput<T> {
      validateSubject(pattern, { wildcards: true });
      const readEnvelopes = async () => {
        await settle();
        return take(pattern).map((e) => decodeEnvelope<T>(e));
      };
      return { readEnvelopes, readAll: async () => (await readEnvelopes()).map((e) => e.data) };
    },
    async deadLetters() {
      await settle();
      return take(deadLetterSubject(topology.name)).map((e) => decodeDeadLetter(e.data));
    },
    settle,
    async stop() {
      const exit = await running.stop();
      recorder.unsubscribe();
      return exit;
    },
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
