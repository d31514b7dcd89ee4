import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StagedFileManifest } from '../../operators/index.js';
import type { LoadReady, SnapshotRow, StagedChange } from '../../topologies/warehouse-load.js';
import { readStagedFiles } from '../crash/staged-files.js';

/** A staged row as read back: the row, and the file and partition it was in. */
export type ReadRow<T> = T & { file: string; partition: string | undefined };

/**
 * Reads what warehouse-load published under `outDir` and lists what breaks its promises: every
 * file whole and matching its manifest (records, bytes, SHA-256), no temporary or unnamed file,
 * each row in the file of its own table, and exactly one `LoadReady` event per manifest that says
 * what the manifest says (and no event without a manifest).
 */
export function readWarehouseLoads(
  outDir: string,
  events: readonly LoadReady[],
): { changes: ReadRow<StagedChange>[]; snapshots: ReadRow<SnapshotRow>[]; problems: string[] } {
  const problems: string[] = [];
  const read = <T>(kind: 'changes' | 'snapshots') => {
    const r = readStagedFiles(join(outDir, kind), { idOf: (d) => d['changeId'], to: kind });
    problems.push(...r.problems);
    const rows = r.outputs.map((o) => o.data as ReadRow<T & { table: string }>);
    for (const row of rows) if (row.partition !== row.table) problems.push(`${row.file}: a ${row.table} row in the ${String(row.partition)} file`);
    return rows;
  };
  const changes = read<StagedChange>('changes');
  const snapshots = read<SnapshotRow>('snapshots');

  const manifests = new Map<string, StagedFileManifest & { kind: 'changes' | 'snapshot' }>();
  for (const kind of ['changes', 'snapshots'] as const) {
    const dir = join(outDir, kind);
    for (const m of existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.manifest.json') && !f.startsWith('.')) : []) {
      manifests.set(m, { ...(JSON.parse(readFileSync(join(dir, m), 'utf8')) as StagedFileManifest), kind: kind === 'changes' ? 'changes' : 'snapshot' });
    }
  }
  const announced = new Map<string, number>();
  for (const e of events) {
    announced.set(e.manifest, (announced.get(e.manifest) ?? 0) + 1);
    const m = manifests.get(e.manifest);
    if (m === undefined) {
      problems.push(`event for ${e.manifest}, which is not published`);
      continue;
    }
    const files = m.files.map((f) => ({ table: f.partition, file: f.file, records: f.records, bytes: f.bytes, sha256: f.sha256 }));
    if (e.kind !== m.kind || e.load !== m.batchKey || e.records !== m.records || JSON.stringify(e.files) !== JSON.stringify(files)) {
      problems.push(`event for ${e.manifest} does not say what the manifest says`);
    }
  }
  for (const [m, n] of announced) if (n > 1) problems.push(`${m} announced ${n} times`);
  for (const m of manifests.keys()) if (!announced.has(m)) problems.push(`${m} published but never announced`);
  return { changes, snapshots, problems };
}

/** The reference snapshot: the last change (by changedAt, then seq) to each table's key. */
export function expectedSnapshot(changes: readonly StagedChange[]): Map<string, string> {
  const latest = new Map<string, StagedChange>();
  for (const c of changes) {
    const id = `${c.table}/${c.key}`;
    const seen = latest.get(id);
    if (seen === undefined || c.changedAt > seen.changedAt || (c.changedAt === seen.changedAt && c.seq > seen.seq)) latest.set(id, c);
  }
  return new Map([...latest].map(([id, c]) => [id, c.changeId]));
}
