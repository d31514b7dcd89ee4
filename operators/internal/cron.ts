import { createRequire } from 'node:module';
import type { Cron } from 'croner';
import { InvalidConfigError } from '../../src/errors.js';

let CronClass: typeof Cron | undefined;
/** croner, loaded by the first cron pattern rather than with `sluice/operators` (issue 14: start-up). */
function cronClass(): typeof Cron {
  return (CronClass ??= (createRequire(import.meta.url)('croner') as { Cron: typeof Cron }).Cron);
}

/**
 * Parses a cron pattern for computing fire times only: croner is given no callback, so it starts
 * no timer of its own — waiting is done with RxJS schedulers so virtual time applies.
 */
export function parseCron(component: string, pattern: string, tz: string | undefined): Cron {
  if (typeof pattern !== 'string') throw new InvalidConfigError(component, 'cron', `must be a cron pattern string, got ${typeof pattern}`);
  try {
    const cron = new (cronClass())(pattern, { timezone: tz });
    cron.nextRun(new Date(0));
    return cron;
  } catch (err) {
    throw new InvalidConfigError(
      component,
      tz === undefined ? 'cron' : 'cron/tz',
      `is not a valid pattern/time zone ('${pattern}'${tz === undefined ? '' : `, '${tz}'`}): ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/** The first fire time strictly after `ms` (epoch ms), or undefined when the pattern never fires again. */
export function nextFireAfter(cron: Cron, ms: number): number | undefined {
  return cron.nextRun(new Date(ms))?.getTime();
}
