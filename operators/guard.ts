import type { OperatorFunction } from 'rxjs';
import type { Envelope } from '../src/envelope/envelope.js';
import type { DeadLettered } from '../src/dead-letter/dead-letter-record.js';
import { createGuard, type GuardHandlerConfig, type Handled } from './guard-handler.js';
import { requireInt } from './internal/validate-config.js';
import { orderedMergeMap } from './internal/ordered-merge-map.js';

/** Options for {@link guard}: a guarded handler plus how many envelopes run at once. */
export interface GuardConfig<T, R> extends GuardHandlerConfig<T, R> {
  /** Envelopes handled concurrently; outcomes still come out in input order. Default 1. */
  maxInFlight?: number | undefined;
  /** Envelopes waiting for a slot before the output fails with `BufferOverflowError`. Default 10000. */
  maxQueued?: number | undefined;
}

/**
 * Runs `handle` for each envelope, retrying transient failures (`retry`) and sending the rest to
 * `sink` as dead letters; the stream carries on past every failure.
 *
 * - Emits: one outcome per envelope, in input order: `Handled` (with the handler's values) or
 *   `DeadLettered` (after `sink` has completed), so acking on the outcome never loses a message.
 * - Holds: up to `maxInFlight` envelopes in progress with their outcomes, plus up to `maxQueued`
 *   waiting (RxJS cannot slow a push source: bound it by the source's credit, e.g. the consumer's
 *   `maxUnsettled`, and the queue never fills). Each envelope's input stays unacknowledged across
 *   every retry (a JetStream source keeps it alive with `working()`) until its outcome has been
 *   emitted in its scope and that emission's effects downstream are complete. `handle` and
 *   `sink` run in the input's scope, so a sink such as `ctx.deadLetter` holds it until the dead
 *   letter is stored.
 * - Fails: when `sink` fails: a dead letter that cannot be stored must not be acked, so the input
 *   is failed (redelivered) and the stream goes on; without a settling input (core NATS) the
 *   output fails. On queue overflow, or when the source fails; inputs still held then are failed.
 *   A `TerminalError` from `handle` is never retried.
 * - Guarantee: passes its input's on (at-least-once from a JetStream stream).
 *
 * ```ts
 * payments$.pipe(
 *   guard({
 *     name: 'ledger',
 *     handle: (env) => from(ledger.post(env.data)),
 *     retry: { maxAttempts: 5, initialDelayMs: 100, maxDelayMs: 5_000 },
 *     sink: (dead) => ctx.deadLetter(dead.envelope, dead.error),
 *     maxInFlight: 8,
 *   }),
 * );
 * ```
 * @throws InvalidConfigError at creation for a bad field.
 */
export function guard<T, R>(config: GuardConfig<T, R>): OperatorFunction<Envelope<T>, Handled<T, R> | DeadLettered<T>> {
  const handle = createGuard('guard', config);
  const maxInFlight = requireInt('guard', 'maxInFlight', config.maxInFlight ?? 1, 1);
  const maxQueued = requireInt('guard', 'maxQueued', config.maxQueued ?? 10_000, 0);
  return orderedMergeMap(handle, { maxInFlight, maxQueued, component: `guard '${config.name}'`, stage: `guard:${config.name}` });
}
