import type { Logger } from '../logger.js';
import { backoffDelayMs, resolveRetryPolicy, type BackoffPolicy, type RetryPolicy } from '../retry/retry-policy.js';
import type { Observable, SchedulerLike, Subscription } from 'rxjs';
import type { Envelope } from '../envelope/envelope.js';
import { ensureError, InvalidConfigError, TopologyFailedError } from '../errors.js';
import { currentSettlement, withSettlement } from '../settle/settle-scope.js';
import type { SupervisionMode } from '../settle/supervision.js';

/**
 * How the runtime restarts a pipeline that failed under `'resume'` or `'retry'` supervision, as
 * Akka's `RestartSettings`. Every field has a default.
 */
export interface RestartSettings extends Omit<RetryPolicy, 'maxAttempts'> {
  /**
   * Failures in a row, with no message of the pipeline's sources received in between, after which
   * the run ends with `TopologyFailedError` (a function that throws on every message is a bug to
   * fix, not input to dead-letter for ever). Integer >= 1. Default 10.
   */
  maxConsecutiveFailures?: number | undefined;
  /**
   * First delay before restarting a pipeline that failed with no message to blame (an error
   * raised outside any delivery: a source, a timer), ms; grows by `multiplier` (default 2) per
   * failure in a row, up to `maxDelayMs` (default 10000), no `jitter` by default. Default 100.
   * While it waits, its stream consumer is stopped: messages the broker had already sent come
   * again after the source's `ackWaitMs`. (A failure on a message restarts at once, while that
   * message is still being delivered, so the consumer is kept and nothing in flight waits.)
   */
  initialDelayMs?: number | undefined;
}

/** {@link RestartSettings} validated, with defaults. */
export interface ResolvedRestart extends Omit<BackoffPolicy, 'maxAttempts'> {
  readonly maxConsecutiveFailures: number;
}

const RESTART_BACKOFF: BackoffPolicy = { maxAttempts: 1, initialDelayMs: 100, maxDelayMs: 10_000, multiplier: 2, jitter: 'none' };

/** What a {@link PipelineSupervisor} needs from the runtime. Internal. */
export interface PipelineSupervisorDeps {
  readonly topology: string;
  /** `pipeline <n>`, `actor <name>`...: names the part in logs, dead letters and errors. */
  readonly name: string;
  readonly pipeline: Observable<unknown>;
  readonly supervision: SupervisionMode;
  readonly restart: ResolvedRestart;
  readonly logger: Logger;
  readonly scheduler: SchedulerLike;
  /** The core-NATS message being pushed through now (those have no settlement), if any. */
  readonly coreInput: { readonly current: Envelope<Uint8Array> | undefined };
  readonly deadLetter: (env: Envelope<unknown>, error: unknown, operator: string) => void;
  /** Messages received so far by the sources this pipeline reads: progress between failures. */
  readonly received: () => number;
  readonly stopping: () => boolean;
  /** The part gives up: end the run. */
  readonly failed: (error: Error) => void;
  /** The part is over for good (completed, or failed while the run drains). */
  readonly ended: () => void;
}

/** Validates and defaults {@link RestartSettings}. */
export function restartSettings(settings: RestartSettings = {}): ResolvedRestart {
  const maxConsecutiveFailures = settings.maxConsecutiveFailures ?? 10;
  if (!Number.isInteger(maxConsecutiveFailures) || maxConsecutiveFailures < 1) {
    throw new InvalidConfigError('runTopology', 'restart.maxConsecutiveFailures', `must be an integer >= 1, got ${maxConsecutiveFailures}`);
  }
  const { initialDelayMs, maxDelayMs, multiplier, jitter } = resolveRetryPolicy(
    { ...settings, maxAttempts: undefined },
    RESTART_BACKOFF,
    'runTopology',
    'restart.',
  );
  return { maxConsecutiveFailures, initialDelayMs, maxDelayMs, multiplier, jitter };
}

/**
 * Keeps one pipeline running under its supervision. When the pipeline errors (a `map` threw):
 * the message being pushed through at that moment is the one that failed — its settlement is the
 * current one (`settle-scope`) — so under `'resume'` it is failed for the dead letters, under
 * `'retry'` for redelivery, and the pipeline is resubscribed; under `'stop'` it is failed for
 * redelivery and the run ends with `TopologyFailedError`. Inputs the old subscription still held
 * (a batch, a `settleMap`) are failed by their stages' teardown and redelivered.
 */
export class PipelineSupervisor {
  private subscription: Subscription | undefined;
  private consecutive = 0;
  private receivedAtFailure = -1;
  private over = false;
  private timer: Subscription | undefined;
  /** True during a restart made while the failed message is still being delivered. */
  private restarting = false;

  constructor(private readonly deps: PipelineSupervisorDeps) {}

  start(): void {
    this.subscribe();
  }

  /** The run is draining: a pipeline waiting for its restart is over now, not after its backoff. */
  drain(): void {
    if (this.timer === undefined) return;
    this.timer.unsubscribe();
    this.timer = undefined;
    this.end();
  }

  /** Unsubscribes the current subscription and any pending restart (the drain's cut-off). */
  unsubscribe(): void {
    this.timer?.unsubscribe();
    this.subscription?.unsubscribe();
  }

  private subscribe(): void {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the observer's callbacks have their own `this`
    const supervisor = this;
    let failedSynchronously = false;
    const sub = this.deps.pipeline.subscribe({
      error(err: unknown): void {
        failedSynchronously = true;
        supervisor.onError(err);
      },
      complete(): void {
        supervisor.end();
      },
    });
    if (!failedSynchronously || this.subscription === undefined) this.subscription = sub;
  }

  private end(): void {
    if (this.over) return;
    this.over = true;
    this.deps.ended();
  }

  private giveUp(error: Error): void {
    this.end();
    this.deps.failed(error);
  }

  private onError(thrown: unknown): void {
    const { name, logger } = this.deps;
    const error = ensureError(thrown);
    // A failure while restarting is the pipeline's own (its subscription), not the message's.
    const settlement = this.restarting ? undefined : currentSettlement();
    const held = settlement !== undefined && !settlement.settled ? settlement : undefined;
    const input = settlement === undefined && !this.restarting ? this.deps.coreInput.current : undefined;
    if (this.deps.stopping()) {
      held?.fail(error);
      logger.warn({ err: error, part: name }, 'pipeline failed while draining');
      return this.end();
    }
    if (error.name === 'TopologyFailedError' || this.deps.supervision === 'stop') {
      // Not acknowledged: the next run gets the message again.
      held?.fail(error);
      const failure =
        error instanceof TopologyFailedError
          ? new TopologyFailedError(this.deps.topology, error.part, error.cause instanceof Error ? error.cause : error, error.detail)
          : new TopologyFailedError(this.deps.topology, name, error);
      logger.error({ err: error, part: name }, 'pipeline failed: stopping the topology (supervision stop)');
      return this.giveUp(failure);
    }
    if (held !== undefined) held.fail(error, this.deps.supervision === 'resume' ? 'resume' : 'retry', name);
    // A core-NATS message cannot be redelivered: 'retry' dead-letters it too.
    else if (input !== undefined) this.deps.deadLetter(input, error, name);
    const blamed = held !== undefined || input !== undefined;

    const received = this.deps.received();
    if (received - this.receivedAtFailure > 1) this.consecutive = 0;
    this.receivedAtFailure = received;
    this.consecutive += 1;
    const { maxConsecutiveFailures } = this.deps.restart;
    // A wrong configuration does not get better by waiting.
    const hopeless = !blamed && error.name === 'InvalidConfigError';
    if (hopeless || this.consecutive >= maxConsecutiveFailures) {
      logger.error({ err: error, part: name, failures: this.consecutive }, 'pipeline keeps failing: stopping the topology');
      return this.giveUp(
        hopeless
          ? new TopologyFailedError(this.deps.topology, name, error)
          : new TopologyFailedError(
              this.deps.topology,
              name,
              error,
              `${this.consecutive} failures in a row with no message processed in between (restart.maxConsecutiveFailures); last: ${error.message}`,
            ),
      );
    }
    if (blamed) {
      // Each such restart uses up one message (dead-lettered or redelivered with the stream's
      // backoff): its rate is the input's, and maxConsecutiveFailures ends a run of them.
      logger.warn(
        { err: error, part: name, supervision: this.deps.supervision, failures: this.consecutive },
        'a stage threw on a message: restarting the pipeline',
      );
      this.restarting = true;
      try {
        return withSettlement(undefined, () => this.subscribe());
      } finally {
        this.restarting = false;
      }
    }
    const delayMs = backoffDelayMs(this.consecutive, this.deps.restart);
    logger.warn(
      { err: error, part: name, supervision: this.deps.supervision, failures: this.consecutive, restartInMs: delayMs },
      'pipeline failed outside any message: restarting it after a backoff',
    );
    this.timer = this.deps.scheduler.schedule(() => {
      this.timer = undefined;
      if (!this.deps.stopping()) this.subscribe();
      else this.end();
    }, delayMs);
  }
}
