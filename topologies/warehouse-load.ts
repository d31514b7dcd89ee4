import { concat, defer, ignoreElements, map } from 'rxjs';
import { defineTopology, InvalidConfigError, msgpackCodec, openStateStore, type Envelope, type StateStore, type Topology } from 'sluice';
import { fileSink, microBatch, readStagedFiles, removeStagedFiles, writeStagedFiles, type StagedFile, type StagedFileManifest } from 'sluice/operators';
import {
  ChangeEventSchema,
  LoadReadySchema,
  type ChangeEvent,
  type LoadReady,
  type SnapshotRow,
  type StagedChange,
  type Table,
} from './warehouse-load-schemas.js';

/**
 * Change data for the warehouse, in the two shapes warehouses load best:
 *
 * - near-real-time: the CRM's row changes are cut into micro-batches (1,000 changes or 30 s) and
 *   each batch is published as one *load*: a staged NDJSON file per table plus a manifest (files,
 *   record counts, SHA-256, the stream range), then a `LoadReady` event;
 * - nightly: at 02:00 Europe/London the day's changes (kept in a durable batch in LMDB) are
 *   compacted into a snapshot file per table — the last change to each row — with its manifest and
 *   its own `LoadReady` event.
 *
 * Every change is in exactly one published change file, a file is never published half-written
 * (temporary name, fsync, rename, directory fsync), and each load's event is published exactly once.
 * A loader in any language subscribes to `warehouse.loads.>`, loads the files its event names
 * and checks them against the manifest. File layout and manifest: docs/warehouse-load.md.
 */
export const SUBJECTS = {
  /** In (stream CRM_CHANGES): `ChangeEvent`, on `crm.changes.<table>`. */
  changes: 'crm.changes.>',
  /** Out (stream WAREHOUSE_CHANGE_LOADS): `LoadReady` with kind 'changes', one per micro-batch load. */
  changeLoads: 'warehouse.loads.changes',
  /** Out (stream WAREHOUSE_SNAPSHOT_LOADS): `LoadReady` with kind 'snapshot', one per nightly run that found changes. */
  snapshotLoads: 'warehouse.loads.snapshot',
} as const;

export const STREAMS = {
  changes: 'CRM_CHANGES',
  changeLoads: 'WAREHOUSE_CHANGE_LOADS',
  snapshotLoads: 'WAREHOUSE_SNAPSHOT_LOADS',
} as const;

export type { ChangeEvent, LoadReady, SnapshotRow, StagedChange, Table } from './warehouse-load-schemas.js';

/** Options of {@link createWarehouseLoad}; every field has a default. */
export interface WarehouseLoadConfig {
  /** Where loads are published. Default `<stateDir>/warehouse-load.files`. */
  outDir?: string | undefined;
  /** Changes per micro-batch load at most. Default 1000. */
  maxCount?: number | undefined;
  /** Longest a change waits for its load, ms. Default 30000. */
  maxWaitMs?: number | undefined;
  /** When the nightly snapshot runs (croner pattern) and in which time zone. Default '0 2 * * *', 'Europe/London'. */
  nightly?: { cron: string; tz: string } | undefined;
  /**
   * Ack wait of the change stream, ms: how soon a crashed run's unacknowledged changes come back
   * (a micro-batch replayed after a crash waits three times this for them). Default 30000.
   */
  ackWaitMs?: number | undefined;
}

/**
 * The warehouse-load topology. Holds in memory: the micro-batch being formed and written (at most
 * `maxCount` changes), and during the nightly run one row per key changed that day (the
 * compaction); the day's changes themselves wait in LMDB.
 *
 * @throws InvalidConfigError for a non-positive `maxCount` or a negative `maxWaitMs`.
 */
export function createWarehouseLoad(config: WarehouseLoadConfig = {}): Topology {
  const maxCount = config.maxCount ?? 1_000;
  const maxWaitMs = config.maxWaitMs ?? 30_000;
  const nightly = config.nightly ?? { cron: '0 2 * * *', tz: 'Europe/London' };
  const ackWaitMs = config.ackWaitMs ?? 30_000;
  if (!Number.isInteger(maxCount) || maxCount < 1) throw new InvalidConfigError('warehouseLoad', 'maxCount', `must be an integer >= 1, got ${maxCount}`);
  if (!(maxWaitMs >= 0)) throw new InvalidConfigError('warehouseLoad', 'maxWaitMs', `must be >= 0, got ${maxWaitMs}`);

  return defineTopology('warehouse-load', (t) => {
    const outDir = config.outDir ?? `${t.stateDir}/warehouse-load.files`;
    let groupStore: StateStore | undefined;
    t.onStop(() => groupStore?.close());

    // What is not a ChangeEvent is dead-lettered by the source, with the failing field paths.
    // The stream must let a whole micro-batch be unacknowledged at once.
    const changes = t
      .stream<ChangeEvent>(STREAMS.changes, SUBJECTS.changes, { schema: ChangeEventSchema, ackWaitMs, maxUnsettled: 2 * maxCount })
      .pipe(map((e): Envelope<StagedChange> => ({ ...e, data: { ...e.data, seq: e.seq! } })));

    // Near-real-time: the groups are recorded in LMDB before their files are written, so a replay
    // after a crash rewrites the same files under the same names: each change in exactly one file.
    const changeLoads = concat(
      defer(() => t.transport.ensureStream({ name: STREAMS.changeLoads, subjects: [SUBJECTS.changeLoads] })).pipe(ignoreElements()),
      changes.pipe(
        microBatch<Envelope<StagedChange>>({
          maxCount,
          maxWaitMs,
          scheduler: t.scheduler,
          groups: {
            store: () => (groupStore ??= openStateStore({ dir: `${t.stateDir}/warehouse-load.groups`, topology: t.topologyName })),
            name: 'changes',
            replayWaitMs: 3 * ackWaitMs,
          },
        }),
        fileSink<Envelope<StagedChange>>({ dir: `${outDir}/changes`, format: 'ndjson', name: 'changes', partitionBy: (e) => e.data.table }),
        map((file) => loadReadyOf('changes', file)),
        // Its message id comes from the recorded group: a load announced again after a crash is a duplicate.
        t.sink(SUBJECTS.changeLoads, { durable: true, name: 'change-loads', stream: STREAMS.changeLoads, schema: LoadReadySchema }),
      ),
    );

    // Nightly: the day's changes accumulate exactly once in LMDB; the schedule's run closes the
    // batch, which is then read in chunks: each chunk is staged as a part in a work directory,
    // and the last one compacts the batch's parts into the snapshot load.
    const work = `${outDir}/.work`;
    t.durableBatch(
      {
        name: 'nightly',
        chunkSize: 1_000,
        emits: { stream: STREAMS.snapshotLoads, subjects: [SUBJECTS.snapshotLoads], schemas: { [SUBJECTS.snapshotLoads]: LoadReadySchema } },
        flush: async (chunk, emit, info) => {
          // The parts of earlier batches: every chunk of those is committed once a later batch flushes.
          await removeStagedFiles({ dir: work, name: 'part', loads: (m) => batchOf(m) < info.batchSeq });
          const rows = chunk.map((r) => msgpackCodec.decode(r.data) as StagedChange);
          // Named by position: a chunk flushed again after a crash replaces its own part.
          if (rows.length > 0) await writeStagedFiles(rows, { dir: work, format: 'ndjson', name: 'part', key: `${info.batchSeq}-${info.from}` });
          if (!info.last) return;
          // Read back one part at a time (each checked against its manifest): compaction holds one row per key, not the day.
          const snapshot = await latestPerRow(readStagedFiles<StagedChange>({ dir: work, name: 'part', loads: (m) => batchOf(m) === info.batchSeq }));
          if (snapshot.length === 0) return;
          const file = await writeStagedFiles(snapshot, {
            dir: `${outDir}/snapshots`,
            format: 'ndjson',
            name: 'snapshot',
            key: `nightly-${info.batchSeq}`,
            partitionBy: (r) => r.table,
          });
          // Through the batch's outbox: published once the last chunk is committed, exactly once.
          emit(SUBJECTS.snapshotLoads, msgpackCodec.encode(LoadReadySchema.parse(loadReadyOf('snapshot', file))), { 'Content-Type': msgpackCodec.contentType });
        },
      },
      { values: changes, triggers: t.schedule('nightly', nightly.cron, { tz: nightly.tz, catchUp: 'all', overlap: 'queue' }) },
    );

    return changeLoads;
  });
}

/** The event announcing a published load (no `undefined` fields: they are not standard MessagePack). */
function loadReadyOf(kind: LoadReady['kind'], file: StagedFile): LoadReady {
  const { firstSeq, lastSeq } = file.inputRange;
  return {
    kind,
    load: file.batchKey,
    dir: file.dir,
    manifest: file.manifestName,
    records: file.records,
    files: file.files.map((f) => ({ table: f.partition as Table, file: f.file, records: f.records, bytes: f.bytes, sha256: f.sha256 })),
    ...(firstSeq !== undefined ? { firstSeq } : {}),
    ...(lastSeq !== undefined ? { lastSeq } : {}),
  };
}

/** The nightly batch a staged part belongs to: its key is `<batchSeq>-<from>`. */
function batchOf(part: StagedFileManifest): number {
  return Number.parseInt(part.batchKey, 10);
}

/**
 * The nightly compaction: the last change to each row (by `changedAt`, then stream sequence), a
 * delete kept as a tombstone, sorted by table and key. The same changes in any order, some of them
 * twice, give the same rows — what makes a chunk staged again after a crash harmless.
 */
export async function latestPerRow(changes: Iterable<StagedChange> | AsyncIterable<StagedChange>): Promise<SnapshotRow[]> {
  const latest = new Map<string, SnapshotRow>();
  for await (const change of changes) {
    const id = `${change.table}\u0000${change.key}`;
    const seen = latest.get(id);
    if (seen === undefined || isLater(change, seen)) latest.set(id, change);
  }
  return [...latest.values()].sort((a, b) => (a.table < b.table ? -1 : a.table > b.table ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function isLater(a: StagedChange, b: StagedChange): boolean {
  const ms = Date.parse(a.changedAt) - Date.parse(b.changedAt);
  return ms !== 0 ? ms > 0 : a.seq > b.seq;
}

/** Reads `WAREHOUSE_OUT_DIR`, `WAREHOUSE_MAX_COUNT`, `WAREHOUSE_MAX_WAIT_MS`, `WAREHOUSE_NIGHTLY_CRON` and `WAREHOUSE_NIGHTLY_TZ` (all optional). */
export function warehouseLoadConfigFromEnv(env: Readonly<Record<string, string | undefined>>): WarehouseLoadConfig {
  const text = (key: string) => (env[key] !== undefined && env[key] !== '' ? env[key] : undefined);
  const num = (key: string) => (text(key) !== undefined ? Number(text(key)) : undefined);
  const cron = text('WAREHOUSE_NIGHTLY_CRON');
  const tz = text('WAREHOUSE_NIGHTLY_TZ');
  return {
    outDir: text('WAREHOUSE_OUT_DIR'),
    maxCount: num('WAREHOUSE_MAX_COUNT'),
    maxWaitMs: num('WAREHOUSE_MAX_WAIT_MS'),
    nightly: cron !== undefined || tz !== undefined ? { cron: cron ?? '0 2 * * *', tz: tz ?? 'Europe/London' } : undefined,
  };
}

export default createWarehouseLoad(warehouseLoadConfigFromEnv(process.env));
