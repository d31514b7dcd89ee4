import { silentLogger, type Logger } from '../logger.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asyncScheduler, type SchedulerLike, type Subscription } from 'rxjs';
import { InvalidConfigError, TopologyFailedError } from '../errors.js';
import { ManualClock } from './manual-clock.js';
import type { DeadLetterRecord } from '../dead-letter/dead-letter-record.js';
import type { Codec } from '../codec/codec.js';
import { decodeEnvelope } from '../codec/decode-envelope.js';
import { msgpackCodec } from '../codec/msgpack-codec.js';
import { HEADERS, type Envelope } from '../envelope/envelope.js';
import { deadLetterSubject, REPLAYED_PART } from '../dead-letter/dead-letter-subject.js';
import { decodeDeadLetter } from '../dead-letter/encode-dead-letter.js';
import type { Topology } from '../runtime/define-topology.js';
import { runTopology, type RunningTopology, type TopologyExit } from '../runtime/run-topology.js';
import { LocalTransport } from '../transport/local/local-transport.js';
import { subjectMatches, validateSubject } from '../transport/subject.js';

/** Options for {@link startTestDriver}. */
export interface TestDriverOptions {
  /** Default: a silent logger. Pass `pino({ level: 'debug' })` to see the runtime's logs. */
  logger?: Logger | undefined;
  /**
   * Processing time. `'manual'`: a {@link ManualClock} that moves only with
   * `driver.advanceTime(ms)` (starting at `startTimeMs`); a scheduler: that one. Default: real
   * time (`asyncScheduler`).
   */
  scheduler?: SchedulerLike | 'manual' | undefined;
  /** With `scheduler: 'manual'`, where the clock starts, epoch ms. Default 0. */
  startTimeMs?: number | undefined;
  /** Messages recorded at most; the oldest are dropped past it. Default 100000. */
  maxRecorded?: number | undefined;
  /** As `runTopology`'s: act on control that changes things (actor key resets). Default false. */
  allowControl?: boolean | undefined;
}

/** Publishes test input on one subject. */
export interface TestInput<T> {
  /**
   * Encodes (msgpack unless `codec` is given) and publishes `value`; `eventTimeMs` sets its event
   * time (the `Sluice-Event-Time` header).
   * @throws UnconsumedInputError when nothing in the topology reads this subject.
   */
  publish(value: T, options?: { headers?: Record<string, string>; codec?: Codec; eventTimeMs?: number }): void;
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
  /**
   * With `scheduler: 'manual'`: moves processing time forward by `ms` (timers due by then fire,
   * in order), then settles.
   */
  advanceTime(ms: number): Promise<void>;
  /** The topology's processing time, epoch ms. */
  now(): number;
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
 * const driver = await startTestDriver(orderRouting); // import orderRouting from './order-routing.js'
 * driver.input<Order>('shop.orders.web').publish(order);
 * expect(await driver.output<Order>(SUBJECTS.priority).readAll()).toEqual([order]);
 * await driver.stop();
 * ```
 */
export async function startTestDriver(topology: Topology, options: TestDriverOptions = {}): Promise<TopologyTestDriver> {
  const clock = options.scheduler === 'manual' ? new ManualClock(options.startTimeMs ?? 0) : undefined;
  const scheduler: SchedulerLike = clock ?? (options.scheduler as SchedulerLike | undefined) ?? asyncScheduler;
  const transport = new LocalTransport({ name: `test:${topology.name}`, scheduler });
  const stateDir = mkdtempSync(join(tmpdir(), `sluice-test-${topology.name}-`));
  const maxRecorded = options.maxRecorded ?? 100_000;
  let recorded: Envelope<Uint8Array>[] = [];
  let seen = 0;
  // What the test itself published is not output. The transport delivers in publish order, so
  // each input reaches the recorder at the head of this queue; equal bytes on the same subject
  // are indistinguishable anyway.
  const inputs: Array<{ subject: string; bytes: Uint8Array }> = [];
  const sendInput = (subject: string, bytes: Uint8Array, headers?: Record<string, string>) => {
    assertRunning();
    // The recorder itself is one subscriber; a test input nobody else reads would pass silently.
    const interest = transport.interestIn(subject);
    if (interest.subscribers <= 1 && interest.stream === undefined) throw new UnconsumedInputError(topology.name, subject);
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
    logger: options.logger ?? silentLogger,
    scheduler,
    report: () => undefined,
    closeTransport: true,
    stateDir,
    allowControl: options.allowControl,
  });
  let failure: TopologyFailedError | undefined;
  void running.done.then((exit) => {
    if (exit.reason === 'failed')
      failure = exit.error instanceof TopologyFailedError ? exit.error : new TopologyFailedError(topology.name, exit.failedPart ?? 'a pipeline', exit.error);
  });
  const assertRunning = (): void => {
    if (failure !== undefined) throw failure;
  };

  const settle = async (): Promise<void> => {
    // Idle = two flushes in a row during which nothing new was published.
    let before = -1;
    for (let rounds = 0; rounds < 1000 && before !== seen; rounds++) {
      before = seen;
      clock?.advance(0);
      await transport.flush();
      await new Promise((resolve) => setImmediate(resolve));
      await transport.flush();
    }
    // Let a failure that happened meanwhile reach `running.done`.
    await new Promise((resolve) => setImmediate(resolve));
    assertRunning();
  };
  // Sources subscribe asynchronously (a stream is created first): input published before they
  // are ready would find nobody reading it.
  try {
    await settle();
  } catch (err) {
    await running.stop();
    recorder.unsubscribe();
    rmSync(stateDir, { recursive: true, force: true });
    throw err;
  }

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
          const headers: Record<string, string> = { ...opts.headers, [HEADERS.contentType]: codec.contentType };
          if (opts.eventTimeMs !== undefined) headers[HEADERS.eventTime] = String(opts.eventTimeMs);
          sendInput(subject, codec.encode(value), headers);
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
      // Every part's subject (`sluice.dlq.<topology>[.<part>]`), in the order they were published.
      const own = deadLetterSubject(topology.name);
      const markers = deadLetterSubject(topology.name, REPLAYED_PART);
      const isDeadLetter = (e: Envelope<Uint8Array>) => e.subject === own || (subjectMatches(`${own}.>`, e.subject) && e.subject !== markers);
      const taken = recorded.filter(isDeadLetter);
      recorded = recorded.filter((e) => !isDeadLetter(e));
      return taken.map((e) => decodeDeadLetter(e.data));
    },
    settle,
    async advanceTime(ms: number) {
      if (clock === undefined) throw new InvalidConfigError('TopologyTestDriver', 'scheduler', "must be 'manual' to advance time");
      clock.advance(ms);
      await settle();
    },
    now: () => scheduler.now(),
    async stop() {
      const exit = await running.stop();
      recorder.unsubscribe();
      rmSync(stateDir, { recursive: true, force: true });
      return exit;
    },
  };
}

/** A test published on a subject nothing in the topology reads (a typo, or a source not wired). */
export class UnconsumedInputError extends Error {
  override readonly name = 'UnconsumedInputError';
  constructor(
    readonly topology: string,
    readonly subject: string,
  ) {
    super(`test input on subject '${subject}': nothing in topology '${topology}' reads it (no source subscribes to it and no stream captures it)`);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
