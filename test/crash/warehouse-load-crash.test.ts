import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { STREAMS, SUBJECTS, type LoadReady, type Table } from '../../topologies/warehouse-load.js';
import { useNatsServer } from '../helpers/nats-server.js';
import { readWarehouseLoads } from '../topologies/warehouse-load-check.js';
import { guaranteeViolations, runCrashRow, type CrashRow } from './topology-crash.js';

/*
 * topologies/warehouse-load.ts under real crashes: the processor (a child running the topology,
 * with its own subjects and streams, over this file's own nats-server, the nightly run every
 * second) is SIGKILLed three times at seeded random
 * moments (SLUICE_CRASH_SEED reproduces a run) and restarted until every change is in a change
 * file and in a snapshot. Every change has its own key, so the compaction keeps each: then every
 * change id must be in exactly one published change file AND exactly one snapshot file, every file
 * whole and matching its manifest, no temporary file left, and each load announced exactly once.
 */

const server = useNatsServer();
const tableOf = (n: number): Table => (n % 2 === 0 ? 'customers' : 'orders');

const WAREHOUSE_ROW: CrashRow = {
  title: 'n. stream → warehouse-load (micro-batch loads per table + nightly snapshot from a durable batch, LoadReady events)',
  fixture: 'warehouse-load.ts',
  guarantee: 'exactly-once',
  msgIds: 'group',
  output: 'files',
  names: {
    topology: 'warehouse-load',
    inputStream: STREAMS.changes,
    inputSubjects: SUBJECTS.changes,
    inputSubject: (input) => `crm.changes.${tableOf(input.n)}`,
    outStreams: [STREAMS.changeLoads, STREAMS.snapshotLoads],
    outPrefix: 'warehouse.loads',
  },
  complete: 'files',
  inputs: 2000,
  kills: 3,
  payload: (input) => ({
    changeId: input.id,
    table: tableOf(input.n),
    op: 'insert',
    key: `k${input.n}`,
    row: { n: input.n },
    changedAt: new Date(Date.UTC(2026, 11, 4) + input.n * 1000).toISOString(),
  }),
  expect: () => ['changes', 'snapshots'],
  payloadOk: (data, n) => (data as { row?: { n?: unknown } }).row?.n === n,
  readFiles: (dir, published) => {
    const read = readWarehouseLoads(
      join(dir, 'loads'),
      published.map((o) => o.data as LoadReady),
    );
    return {
      outputs: [
        ...read.changes.map((r) => ({ id: r.changeId, to: 'changes', data: r })),
        ...read.snapshots.map((r) => ({ id: r.changeId, to: 'snapshots', data: r })),
      ],
      problems: read.problems,
    };
  },
};

describe('warehouse-load under real crashes (SIGKILL of the processor)', () => {
  it(
    WAREHOUSE_ROW.title,
    async () => {
      expect(guaranteeViolations(await runCrashRow(server(), WAREHOUSE_ROW))).toEqual([]);
    },
    120_000,
  );
});
