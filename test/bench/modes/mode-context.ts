import type { ModeContext } from '../../../bench/modes/mode.js';
import type { OrderTarget } from '../../../bench/workload.js';

/** A bench mode's context for a test: its subjects under `prefix` on the server at `url`, no work directory. */
export function modeContextFor(url: string, prefix: string, params: Record<string, number>): ModeContext {
  return {
    url,
    inSubject: `${prefix}.in`,
    outSubject: (t: OrderTarget) => `${prefix}.out.${t}`,
    deadLetterSubject: `${prefix}.dlq`,
    workDir: '/nonexistent',
    params,
  };
}
