import { filter, map } from 'rxjs';
import { defineTopology, TerminalError, type Topology } from '../../../src/index.js';

/** An input of the dead-letter replay crash test: its id is in the payload, so a replay is counted by it. */
export interface ReplayInput {
  id: string;
  n: number;
}

/** Inputs the buggy build takes; the rest it dead-letters. */
export const goodBeforeFix = (n: number): boolean => n % 11 === 0;
/** The input stream of topology `name`: `<NAME>_IN` on `<name>.in`. */
export const inputStreamOf = (name: string): string => `${name.toUpperCase().replace(/-/g, '_')}_IN`;

/**
 * The topology of the dead-letter replay crash test (dlq-replay-crash.test.ts): reads `<name>.in`
 * from its stream and publishes `n` to `<name>.out`. Before the fix it dead-letters every input
 * but each 11th (`TerminalError 'bad: <n>'`); after the fix (`fixed`) it takes them all, so a
 * replayed record is processed, never parked.
 */
export function dlqReplayTopology(name: string, fixed: boolean): Topology {
  return defineTopology(name, (t) =>
    t.stream<ReplayInput>(inputStreamOf(name), `${name}.in`).pipe(
      filter((e) => fixed || goodBeforeFix(e.data.n) || (t.deadLetter(e, new TerminalError(`bad: ${e.data.n}`), 'check'), false)),
      map((e) => e.data.n),
      t.sink(`${name}.out`),
    ),
  );
}

/** What `sluice run` loads: the fixed build, named by `DLQ_TOPOLOGY`. */
export default dlqReplayTopology(process.env['DLQ_TOPOLOGY'] ?? 'dlq-replay', true);
