import { InvalidConfigError } from '../errors.js';

/**
 * What happens to a message when a user function throws on it (a plain RxJS `map`, or the
 * function given to a Sluice operator) — Akka Streams' supervision strategies, one word across
 * Sluice: the `supervision` option of a topology, a pipeline (`supervised`) and every operator
 * that runs a user function.
 *
 * - `'resume'` (the default): the message goes to the dead letters at once, with the error, its
 *   subject, stream sequence and original bytes, and the pipeline carries on with the next one.
 *   A plain RxJS pipeline is resubscribed to do so, which restarts the state of its plain RxJS
 *   stages (a `scan` starts over), as Akka's `restart`.
 * - `'retry'`: the message is not acknowledged: the stream source redelivers it with its backoff
 *   (`redeliveryDelayMs`, doubling) and dead-letters it after `maxDeliveries`. For failures a
 *   retry can fix (a service down).
 * - `'stop'`: the message is not acknowledged (the next run gets it again) and the run ends with
 *   `TopologyFailedError` naming the part.
 */
export type SupervisionMode = 'resume' | 'retry' | 'stop';

/** The supervision of a topology, pipeline or operator that does not set one. */
export const DEFAULT_SUPERVISION: SupervisionMode = 'resume';

/** Validates a `supervision` option; undefined gives `fallback`. */
export function requireSupervision(component: string, value: unknown, fallback: SupervisionMode = DEFAULT_SUPERVISION): SupervisionMode {
  if (value === undefined) return fallback;
  if (value === 'resume' || value === 'retry' || value === 'stop') return value;
  throw new InvalidConfigError(component, 'supervision', `must be 'resume', 'retry' or 'stop', got ${JSON.stringify(value)}`);
}
