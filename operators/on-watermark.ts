import { Observable } from 'rxjs';
import type { BatchTrigger } from './batch-until.js';
import { nextFireAfter, parseCron } from './internal/cron.js';
import { optionalNumber } from './internal/validate-config.js';

/** Config for {@link onWatermark}. */
export interface OnWatermarkConfig {
  /**
   * Period boundaries as a cron pattern: `'0 0 * * *'` = midnight (end of day), `'0 * * * *'` =
   * every hour. A period runs from one boundary up to (not including) the next.
   */
  boundary: string;
  /** IANA time zone of the boundaries, e.g. `'Europe/London'`. Default: the process's local zone. */
  tz?: string | undefined;
  /** How far behind the newest event time the watermark trails, ms. Default 0. */
  maxOutOfOrderMs?: number | undefined;
  /** Reason on the flushed batch. Default `'period-closed'`. */
  reason?: string | undefined;
}

/**
 * A `batchUntil` trigger that fires when the event-time watermark (newest `eventTime` seen minus
 * `maxOutOfOrderMs`) passes a period boundary — "the day is closed". It fires BEFORE appending the
 * value that moved the watermark past the boundary, so that value starts the next batch.
 *
 * The batch holds everything that arrived before that point, which can include a few events of
 * the next period (up to `maxOutOfOrderMs` ahead) and late events of earlier ones; use `window`
 * when each event must land exactly in its period. The watermark lives in memory and restarts
 * from the first event after a restart. Values without a numeric `eventTime` do not move it.
 *
 * ```ts
 * batchUntil(onWatermark({ boundary: '0 0 * * *', tz: 'Europe/Paris', maxOutOfOrderMs: 60_000 }), { name: 'daily' })
 * ```
 * @throws InvalidConfigError at creation for an invalid pattern, zone or delay.
 */
export function onWatermark(config: OnWatermarkConfig): BatchTrigger<{ readonly eventTime?: number }> {
  const cron = parseCron('onWatermark', config.boundary, config.tz);
  const maxOutOfOrderMs = optionalNumber('onWatermark', 'maxOutOfOrderMs', config.maxOutOfOrderMs, 0) ?? 0;
  const reason = config.reason ?? 'period-closed';
  return (ctx) =>
    new Observable<string>((subscriber) => {
      let boundary: number | undefined;
      let watermark = -Infinity;
      return ctx.arriving.subscribe({
        next: (value) => {
          const t = value.eventTime;
          if (typeof t !== 'number' || !Number.isFinite(t) || t - maxOutOfOrderMs <= watermark) return;
          watermark = t - maxOutOfOrderMs;
          if (boundary === undefined) {
            boundary = nextFireAfter(cron, watermark);
            return;
          }
          if (watermark >= boundary) {
            boundary = nextFireAfter(cron, watermark);
            subscriber.next(reason);
          }
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
    });
}
