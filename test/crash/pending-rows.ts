import type { CrashRow } from './topology-crash.js';

/*
 * Rows of the guarantee table whose operators are not settle-aware on main at 794142d: each is a
 * finished crash case, written against the intended behaviour, to be moved into ROWS in
 * guarantee-rows.ts once the branch that makes its operator settle-aware is merged. Not a
 * test file (no .test.ts), so vitest does not run them before then; to try one, add it to ROWS.
 *
 * What each needs, and what it did on the crash branch (794142d + the sink fix), one run each:
 * - microBatch: inputs are acknowledged on arrival, so a crash loses the open batch (2000
 *   inputs, 3 kills: 233 lost, 16 duplicated); the recorded variant also needs the option that
 *   records batches (assumed `record: { store, name }`; 225 lost, 15 duplicated).
 * - batchUntil: the same, and its outputs need ids from the recorded batch id (onCount: 75 lost,
 *   869 duplicated; onSchedule: 0 lost, 817 duplicated).
 * - poll: the cursor is saved once the items are emitted, not once their effects are done: it
 *   paged through all 2000 rows at once, the first kill lost the 1820 queued in settleMap, and
 *   the restarts found nothing left to poll (the row then takes ~100 s to give up).
 * - microBatchProcess: inputs are acknowledged on arrival, before their file is renamed (92 lost).
 * - mixed: `t.actor` / `t.durableBatch` (DESIGN.md "One runtime") do not exist yet: the child
 *   fails to start with "m.actor is not a function".
 */

const one = (): readonly string[] => ['out'];

export const PENDING_ROWS: readonly CrashRow[] = [
  {
    title: 'stream → microBatch → durable sink',
    fixture: 'micro-batch-durable.ts',
    guarantee: 'at-least-once',
    inputs: 2000,
    kills: 3,
    expect: one,
  },
  {
    title: 'stream → microBatch (recorded groups) → durable sink',
    fixture: 'micro-batch-durable.ts',
    guarantee: 'exactly-once',
    msgIds: 'group',
    inputs: 2000,
    kills: 3,
    params: { recorded: true },
  },
  {
    title: 'stream → batchUntil(onCount) with the LMDB buffer → durable sink',
    fixture: 'batch-until-durable.ts',
    guarantee: 'exactly-once',
    msgIds: 'group',
    inputs: 2000,
    kills: 3,
    params: { trigger: 'count' },
  },
  {
    title: 'stream → batchUntil(onSchedule, every second) with the LMDB buffer → durable sink',
    fixture: 'batch-until-durable.ts',
    guarantee: 'exactly-once',
    msgIds: 'group',
    inputs: 2000,
    kills: 3,
    params: { trigger: 'schedule' },
  },
  {
    title: 'poll → settleMap → durable sink',
    fixture: 'poll-settle-map.ts',
    guarantee: 'at-least-once',
    source: 'none',
    progress: 'published',
    inputs: 2000,
    kills: 3,
    payloadOk: (data, n) => (data as { square?: unknown }).square === n * n,
  },
  {
    title: 'stream → microBatchProcess writing files (rename into place)',
    fixture: 'micro-batch-files.ts',
    guarantee: 'at-least-once',
    output: 'files',
    inputs: 2000,
    kills: 3,
  },
  {
    title: 'stream → route + actor + durable batch in one topology',
    fixture: 'mixed-route-actor-batch.ts',
    guarantee: 'exactly-once',
    msgIds: 'group',
    inputs: 1500,
    kills: 3,
    consumers: 3,
    expect: (n) => [n % 3 === 1 ? 'actor' : n % 3 === 2 ? 'batch' : n % 2 === 0 ? 'even' : 'odd'],
  },
];
