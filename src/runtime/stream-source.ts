import type { Logger } from '../logger.js';
import { defer, from, interval, mergeMap, Observable, takeUntil, type SchedulerLike, type Subscriber } from 'rxjs';
import type { Codec } from '../codec/codec.js';
import type { Envelope } from '../envelope/envelope.js';
import { ensureError } from '../errors.js';
import { Settlement, type FailureOutcome } from '../settle/settlement.js';
import { withSettlement } from '../settle/settle-scope.js';
import type { StreamMessage, Transport } from '../transport/transport.js';
import type { PayloadSchema } from '../schema/payload-schema.js';
import type { PartCounters } from '../observe/part-stats.js';
import type { StreamSourceOptions } from './types.js';
import { endInputSpan, traceInput } from '../trace/trace-input.js';
import { backoffDelayMs } from '../retry/retry-policy.js';

/** What a stream source needs from the context. Internal. */
export interface StreamSourceDeps {
  readonly topologyName: string;
  readonly transport: Transport;
  readonly logger: Logger;
  readonly scheduler: SchedulerLike;
  readonly closing$: Observable<void>;
  /** Decodes, or dead-letters (holding the current settlement) and returns undefined. */
  readonly decodeOr: <T>(raw: Envelope<Uint8Array>, codec: Codec, operator: string, schema?: PayloadSchema, decode?: boolean) => Envelope<T> | undefined;
  /** `attempts`: how many times the message was delivered (default 1). */
  readonly deadLetter: (env: Envelope<unknown>, error: unknown, operator: string, attempts?: number) => void;
  /** Unsettled messages of all stream sources, for stats. */
  readonly unsettled: { add(n: number): void };
  /** This reader's part in the stats: messages in, envelopes passed on, dead letters, unsettled. */
  readonly counters?: PartCounters | undefined;
}

/** Defaults of the at-least-once stream source. */
export const STREAM_SOURCE_DEFAULTS = {
  maxUnsettled: 1_000,
  ackWaitMs: 30_000,
  maxDeliveries: 5,
  /** First redelivery delay after a failed effect; doubles per delivery up to 30 s. */
  redeliveryDelayMs: 1_000,
  /** Half the default duplicate window: re-read inputs handed over before a crash are still dropped. */
  reReadUnackedWithinMs: 60_000,
} as const;

/**
 * A JetStream stream as an Observable of envelopes, settling each message when the effects it
 * caused are complete (see `Settlement`): a durable pull consumer whose `max_ack_pending` is
 * `maxUnsettled`, so the broker stops delivering while that many are unsettled (backpressure from
 * the sinks to the broker, and memory bounded over any backlog). A message whose effects failed
 * is redelivered after a backoff; after `maxDeliveries` it is dead-lettered, then acknowledged.
 * One failed with `'resume'` supervision (or a `TerminalError`) is dead-lettered at once.
 * A message held longer than a third of the ack wait is kept alive with `working()`.
 * A restart after a crash resumes in stream order from the ack floor (`reReadUnackedWithinMs`):
 * the unsettled messages come before newer ones, so per-key order holds across crashes.
 *
 * With `ordered: true`, the old reader: an ordered consumer from `startSeq`, nothing acknowledged;
 * every start reads again from `startSeq` (at-least-once; for replays and inspection).
 */
export function streamSource<T>(
  deps: StreamSourceDeps,
  streamName: string,
  subjects: readonly string[],
  durableName: string,
  options: StreamSourceOptions,
  codec: Codec,
): Observable<Envelope<T>> {
  const { transport, scheduler, closing$ } = deps;
  const ordered = options.ordered === true;
  const counters = deps.counters;
  if (counters !== undefined && !ordered) {
    counters.unsettled = 0;
    counters.lagOf = () => transport.consumerState(streamName, durableName).then((c) => c?.pending ?? null);
  }
  const maxUnsettled = maxUnsettledOf(options);
  const ackWaitMs = options.ackWaitMs ?? STREAM_SOURCE_DEFAULTS.ackWaitMs;
  const maxDeliveries = options.maxDeliveries ?? STREAM_SOURCE_DEFAULTS.maxDeliveries;
  const redeliveryDelayMs = options.redeliveryDelayMs ?? STREAM_SOURCE_DEFAULTS.redeliveryDelayMs;
  const operator = `stream:${streamName}`;
  const messages$ = defer(() => from(transport.ensureStream({ name: streamName, subjects, maxAgeMs: options.maxAgeMs, storage: options.storage }))).pipe(
    mergeMap(() =>
      transport.consume({
        stream: streamName,
        durableName: ordered ? undefined : durableName,
        startSeq: options.startSeq,
        filterSubject: options.filterSubject,
        maxInFlight: maxUnsettled,
        ackWaitMs,
        reReadUnackedWithinMs: options.reReadUnackedWithinMs ?? STREAM_SOURCE_DEFAULTS.reReadUnackedWithinMs,
      }),
    ),
    takeUntil<StreamMessage>(closing$),
  );

  // Decodes and passes a message on (a decode failure is dead-lettered), counting both.
  // Ordered reads have no settlement: their envelopes carry the input's trace headers, other
  // values do not get them (docs/runtime.md, Tracing).
  const pass = (msg: StreamMessage, subscriber: Subscriber<Envelope<T>>, settlement?: Settlement): void => {
    if (counters !== undefined) counters.in++;
    const env = deps.decodeOr<T>(msg, codec, operator, options.schema, options.decode !== false);
    if (env === undefined) {
      if (counters !== undefined) counters.deadLetters++;
      return;
    }
    if (counters !== undefined) counters.out++;
    subscriber.next(settlement !== undefined ? traceInput(env, settlement) : env);
  };

  if (ordered) {
    return new Observable<Envelope<T>>((subscriber) =>
      messages$.subscribe({
        next: (msg) => pass(msg, subscriber),
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      }),
    );
  }

  return new Observable<Envelope<T>>((subscriber) => {
    // Messages still unsettled after the synchronous pass (held by a sink awaiting its ack, a
    // batch...), by sequence, with when they were (last) kept alive. Most settle within the pass
    // and never enter it: nobody can observe them in between.
    const unsettled = new Map<number, { msg: StreamMessage; touchedAt: number }>();
    const settleAs = (msg: StreamMessage, failure: Error | undefined, outcome?: FailureOutcome): void => {
      if (unsettled.delete(msg.seq)) {
        deps.unsettled.add(-1);
        if (counters !== undefined) counters.unsettled = unsettled.size;
      }
      if (failure === undefined) return msg.ack();
      // 'resume' supervision (or an error that says a retry cannot help): dead-letter it now.
      const now = outcome?.resume === true || failure.name === 'TerminalError';
      if (!now && msg.deliveryCount < maxDeliveries) {
        const delay = backoffDelayMs(msg.deliveryCount, { initialDelayMs: redeliveryDelayMs, maxDelayMs: 30_000, multiplier: 2, jitter: 'none' });
        deps.logger.warn(
          { stream: msg.stream, seq: msg.seq, subject: msg.subject, delivery: msg.deliveryCount, retryInMs: delay, err: failure },
          'an effect of this message failed: it will be redelivered',
        );
        return msg.nak(delay);
      }
      // Out of deliveries: the dead letter is this message's last effect, then it is acked.
      const last = new Settlement(`${msg.stream}:${msg.seq}`, true, (dlqFailure) => (dlqFailure === undefined ? msg.ack() : msg.nak(ackWaitMs)));
      if (counters !== undefined) counters.deadLetters++;
      withSettlement(last, () => deps.deadLetter(msg, failure, outcome?.part ?? operator, msg.deliveryCount));
      last.release();
    };
    const keepAlive = interval(Math.max(1, Math.floor(ackWaitMs / 3)), scheduler).subscribe(() => {
      const now = scheduler.now();
      for (const entry of unsettled.values()) {
        if (now - entry.touchedAt >= ackWaitMs / 3) {
          entry.touchedAt = now;
          entry.msg.working();
        }
      }
    });
    const sub = messages$.subscribe({
      next: (msg) => {
        const settlement: Settlement = new Settlement(`${msg.stream}:${msg.seq}`, true, (failure, outcome) => {
          endInputSpan(settlement, failure);
          settleAs(msg, failure, outcome);
        });
        try {
          withSettlement(settlement, () => pass(msg, subscriber, settlement));
        } catch (err) {
          // A synchronous stage threw: the message was not processed. Redeliver it rather than
          // ack it; the error still ends the pipeline as RxJS would.
          settlement.fail(ensureError(err));
          settlement.release();
          throw err;
        }
        // RxJS turns a throw in a stage (`map`) into an error notification, not a throw here: the
        // pipeline closed during this message, so it was not processed. Redeliver it.
        if (subscriber.closed) settlement.fail(new Error(`the pipeline reading stream '${msg.stream}' stopped while handling seq ${msg.seq}`));
        settlement.release();
        if (settlement.settled) return;
        // The pass took no (virtual) time: now is when the message arrived.
        unsettled.set(msg.seq, { msg, touchedAt: scheduler.now() });
        deps.unsettled.add(1);
        if (counters !== undefined) counters.unsettled = unsettled.size;
      },
      error: (err: unknown) => subscriber.error(err),
      complete: () => subscriber.complete(),
    });
    return () => {
      keepAlive.unsubscribe();
      sub.unsubscribe();
    };
  });
}

/** The bound on unsettled messages a stream read asks for (`maxInFlight` is its old name). */
export function maxUnsettledOf(options: StreamSourceOptions): number {
  return options.maxUnsettled ?? options.maxInFlight ?? STREAM_SOURCE_DEFAULTS.maxUnsettled;
}

/**
 * The default durable consumer name of a stream source: `sluice_<topology>_<stream>`, plus the
 * filter subject and an ordinal when a topology reads the same stream more than once, so each
 * pipeline gets every message. Tokens NATS does not allow in consumer names become `_`.
 */
export function defaultDurableName(topology: string, stream: string, filterSubject: string | undefined, ordinal: number): string {
  const parts = ['sluice', topology, stream];
  if (filterSubject !== undefined) parts.push(filterSubject);
  if (ordinal > 1) parts.push(String(ordinal));
  return parts.join('_').replace(/[.*>\s/\\]/g, '_');
}
