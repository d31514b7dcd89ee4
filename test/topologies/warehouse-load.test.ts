import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { msgpackCodec } from '../../src/codec/msgpack-codec.js';
import { describeTopology, formatTopologyDescription } from '../../src/runtime/describe-topology.js';
import { runTopology } from '../../src/runtime/run-topology.js';
import { ManualClock } from '../../src/testing/index.js';
import { NatsTransport } from '../../src/transport/nats/nats-transport.js';
import warehouseLoad, {
  createWarehouseLoad,
  latestPerRow,
  STREAMS,
  SUBJECTS,
  warehouseLoadConfigFromEnv,
  type ChangeEvent,
  type LoadReady,
  type StagedChange,
} from '../../topologies/warehouse-load.js';
import { useNatsServer } from '../helpers/nats-server.js';
import { readStream } from '../helpers/read-stream.js';
import { until } from '../helpers/until.js';
import { expectedSnapshot, readWarehouseLoads } from './warehouse-load-check.js';

const server = useNatsServer();
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const events = async (transport: NatsTransport, stream: string): Promise<LoadReady[]> => {
  const state = await transport.streamState(stream).catch(() => ({ messages: 0 }));
  if (state.messages === 0) return [];
  return (await readStream(transport, stream)).map((m) => msgpackCodec.decode(m.data) as LoadReady);
};

/** `n` changes over 30 keys of two tables, each key inserted first, then updated, every 7th deleted. */
function changesFor(n: number, startMs: number): ChangeEvent[] {
  const out: ChangeEvent[] = [];
  const seen = new Set<string>();
  for (let i = 1; i <= n; i++) {
    const table = i % 3 === 0 ? 'customers' : 'orders';
    const key = `${table[0]}${i % 30}`;
    const op = !seen.has(key) ? 'insert' : i % 7 === 0 ? 'delete' : 'update';
    if (op === 'delete') seen.delete(key);
    else seen.add(key);
    out.push({
      changeId: `ch-${i}`,
      table,
      op,
      key,
      row: op === 'delete' ? null : { id: key, version: i },
      changedAt: new Date(startMs + i * 1000).toISOString(),
    });
  }
  return out;
}

describe('warehouse-load', () => {
  it('describe: every path exactly-once, the nightly run at 02:00 Europe/London', () => {
    const text = formatTopologyDescription(describeTopology(warehouseLoad));
    expect(text).toContain("schedule nightly  '0 2 * * *' in Europe/London");
    expect(text).toContain('CRM_CHANGES (crm.changes.>) -> warehouse.loads.changes  exactly-once');
    expect(text).toContain('schedule:nightly -> sluice.batch.warehouse-load.nightly.in, sluice.batch.warehouse-load.nightly.trigger  exactly-once');
    expect(text).toContain('durable-batch nightly -> warehouse.loads.snapshot  exactly-once');
    expect(warehouseLoadConfigFromEnv({ WAREHOUSE_OUT_DIR: '/data/loads', WAREHOUSE_MAX_COUNT: '500', WAREHOUSE_NIGHTLY_TZ: 'UTC' })).toEqual({
      outDir: '/data/loads',
      maxCount: 500,
      maxWaitMs: undefined,
      nightly: { cron: '0 2 * * *', tz: 'UTC' },
    });
    expect(() => createWarehouseLoad({ maxCount: 0 })).toThrow(/'maxCount' must be an integer >= 1, got 0/);
  });

  it('property: the compaction keeps the last change per row (changedAt, then seq) whatever the order and however many chunks were staged twice', async () => {
    const change = fc.record({
      table: fc.constantFrom('customers' as const, 'orders' as const),
      key: fc.constantFrom('a', 'b', 'c', 'd'),
      op: fc.constantFrom('insert' as const, 'update' as const, 'delete' as const),
      second: fc.integer({ min: 0, max: 5 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(change, { maxLength: 40 }), fc.array(fc.nat(), { maxLength: 10 }), fc.nat(), async (drawn, twice, seed) => {
        const changes: StagedChange[] = drawn.map((c, i) => ({
          changeId: `ch-${i + 1}`,
          table: c.table,
          op: c.op,
          key: c.key,
          row: c.op === 'delete' ? null : { v: i },
          seq: i + 1,
          changedAt: new Date(Date.UTC(2026, 11, 4, 9, 0, c.second)).toISOString(),
        }));
        // Reference: a sequential fold in stream order, a later (changedAt, seq) replacing the row.
        const reference = new Map<string, StagedChange>();
        for (const c of [...changes].sort((a, b) => a.changedAt.localeCompare(b.changedAt) || a.seq - b.seq)) reference.set(`${c.table}/${c.key}`, c);
        // What the flush sees: some changes staged twice (a chunk re-run), in a shuffled order.
        const staged = [...changes, ...twice.filter((i) => i < changes.length).map((i) => changes[i]!)];
        let r = seed;
        for (let i = staged.length - 1; i > 0; i--) {
          r = (r * 1103515245 + 12345) % 2 ** 31;
          const j = r % (i + 1);
          [staged[i], staged[j]] = [staged[j]!, staged[i]!];
        }
        const rows = await latestPerRow(staged);
        expect(new Map(rows.map((row) => [`${row.table}/${row.key}`, row.changeId]))).toEqual(new Map([...reference].map(([k, c]) => [k, c.changeId])));
        expect(rows.map((row) => `${row.table}/${row.key}`)).toEqual([...reference.keys()].sort());
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 200) },
    );
  });

  it('over a real nats-server in virtual time: micro-batch loads with manifests and events, then the 02:00 London snapshot, each exactly once', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'sluice-warehouse-'));
    dirs.push(stateDir);
    const outDir = join(stateDir, 'loads');
    const transport = await NatsTransport.connect({ servers: server().url });
    await transport.ensureStream({ name: STREAMS.changes, subjects: [SUBJECTS.changes] });
    // 01:58 in London (GMT in December): the nightly run is two minutes away.
    const clock = new ManualClock(Date.parse('2026-12-04T01:58:00Z'));
    const topology = createWarehouseLoad({ outDir, maxCount: 40, maxWaitMs: 30_000 });
    const run = await runTopology(topology, {
      transport,
      logger: pino({ level: 'silent' }),
      report: () => undefined,
      closeTransport: false,
      service: false,
      stateDir,
      scheduler: clock,
    });
    // Virtual time moves 100 ms every 2 ms of real time, never past `limit`.
    let limit = clock.now();
    const pump = setInterval(() => clock.advance(Math.max(0, Math.min(100, limit - clock.now()))), 2);
    try {
      const changes = changesFor(100, Date.parse('2026-12-03T09:00:00Z'));
      for (const c of changes) await transport.publishDurable(`crm.changes.${c.table}`, msgpackCodec.encode(c));
      // Two loads are cut by count at once; the last 20 changes wait maxWaitMs (30 s of virtual time).
      await until(async () => (await events(transport, STREAMS.changeLoads)).length === 2, { what: 'two loads cut by count' });
      expect((await events(transport, STREAMS.changeLoads)).map((e) => e.records)).toEqual([40, 40]);
      limit = Date.parse('2026-12-04T01:59:59Z');
      await until(async () => (await events(transport, STREAMS.changeLoads)).length === 3, { what: 'the last load cut by maxWaitMs' });
      // Handed over to the nightly batch, and nothing compacted before 02:00.
      await until(async () => (await transport.streamState('SLUICE_BATCH_warehouse-load_nightly')).messages === 100, {
        what: 'the changes handed over to the nightly batch',
      });
      await until(() => clock.now() >= limit, { what: 'virtual time at 01:59:59' });
      expect(existsSync(join(outDir, 'snapshots'))).toBe(false);
      expect(await events(transport, STREAMS.snapshotLoads)).toEqual([]);

      limit = Date.parse('2026-12-04T02:00:10Z');
      await until(async () => (await events(transport, STREAMS.snapshotLoads)).length === 1, { what: 'the nightly snapshot load', timeoutMs: 30_000 });
      await run.stop();

      const changeEvents = await events(transport, STREAMS.changeLoads);
      const snapshotEvents = await events(transport, STREAMS.snapshotLoads);
      const read = readWarehouseLoads(outDir, [...changeEvents, ...snapshotEvents]);
      expect(read.problems).toEqual([]);
      // Every change in exactly one change file, as published (with its stream sequence).
      expect(read.changes.map((r) => r.changeId).sort()).toEqual(changes.map((c) => c.changeId).sort());
      expect(read.changes.every((r) => r.seq >= 1 && r.seq <= 100)).toBe(true);
      expect(changeEvents.map((e) => e.kind)).toEqual(['changes', 'changes', 'changes']);
      expect(changeEvents[0]).toMatchObject({ firstSeq: 1, lastSeq: 40 });
      expect(changeEvents[0]!.files.map((f) => f.table)).toEqual(['customers', 'orders']);
      // The snapshot: the last change to each row (deletes kept as tombstones), one file per table.
      const snapshot = new Map(read.snapshots.map((r) => [`${r.table}/${r.key}`, r.changeId]));
      expect(snapshot).toEqual(expectedSnapshot(read.changes));
      expect(read.snapshots.some((r) => r.op === 'delete' && r.row === null)).toBe(true);
      expect(snapshotEvents[0]).toMatchObject({ kind: 'snapshot', records: snapshot.size, dir: join(outDir, 'snapshots') });
      // The work directory keeps only the last batch's parts; no temporary file anywhere.
      expect(readdirSync(join(outDir, '.work')).every((f) => f.startsWith('part.1-'))).toBe(true);
    } finally {
      clearInterval(pump);
      await run.stop();
      await transport.close();
    }
  }, 90_000);
});
