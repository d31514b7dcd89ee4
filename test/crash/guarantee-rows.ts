import type { CrashRow } from './topology-crash.js';

/*
 * The rows of the guarantee table that hold on main, as crash cases (run by
 * topology-crash.test.ts; the backlog test reuses ROUTE_ROW). A further row is one more
 * `CrashRow` in ROWS; the rows waiting for settle-aware operators are in pending-rows.ts.
 */

/** The model of topologies/route-durable.ts: where input `n` goes (nowhere when filtered). */
export function routeTargets(n: number): string[] {
  if (n % 5 === 0) return [];
  const to = [...(n % 2 === 0 ? ['even'] : []), ...(n % 3 === 0 ? ['three'] : [])];
  return to.length > 0 ? to : ['odd'];
}

/** a. JetStream stream → filter/map/route → durable sink: exactly-once. */
export const ROUTE_ROW: CrashRow = {
  title: 'a. stream → filter/map/route → durable sink',
  fixture: 'route-durable.ts',
  guarantee: 'exactly-once',
  inputs: 3000,
  kills: 3,
  expect: routeTargets,
  payloadOk: (data, n) => (data as { double?: unknown }).double === 2 * n,
};

/** The rows that SIGKILL only the processor and need nothing beyond the guarantee's counts. */
export const ROWS: readonly CrashRow[] = [
  ROUTE_ROW,
  {
    title: 'b. stream → settleMap (async, random delays) → durable sink',
    fixture: 'settle-map-durable.ts',
    guarantee: 'exactly-once',
    inputs: 2000,
    kills: 3,
    payloadOk: (data, n) => (data as { square?: unknown }).square === n * n,
  },
  {
    title: 'c. stream → core sink, a subscriber connected throughout',
    fixture: 'stream-core-sink.ts',
    guarantee: 'at-least-once',
    inputs: 3000,
    kills: 3,
    output: 'subscriber',
  },
];

/** d. Core subject → core sink: at-most-once (inputs published during the runs, 500/s for 10 s). */
export const CORE_SOURCE_ROW: CrashRow = {
  title: 'd. core subject → core sink',
  fixture: 'core-source.ts',
  guarantee: 'at-most-once',
  source: 'core',
  output: 'subscriber',
  inputs: 5000,
  ratePerSec: 500,
  kills: 2,
};

/** e. Row a with nats-server SIGKILLed (twice) and restarted instead of the processor. */
export const BROKER_CRASH_ROW: CrashRow = { ...ROUTE_ROW, title: 'e. row a, nats-server SIGKILLed mid-stream', kills: 0, serverKills: 2 };
