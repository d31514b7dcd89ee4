import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../src/errors.js';
import { writeStagedFiles } from '../../operators/write-staged-files.js';

const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'write-staged-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const sha = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

describe('writeStagedFiles', () => {
  const rows = [
    { table: 'orders', id: 'o1', seq: 7, stream: 'CRM' },
    { table: 'customers', id: 'c1', seq: 9, stream: 'CRM' },
  ];

  it('publishes one load (a file per partition + a manifest with counts, checksums and input range); the same key and values again replace it', async () => {
    const dir = join(tempDir(), 'snapshots');
    const first = await writeStagedFiles(rows, { dir, format: 'ndjson', name: 'snapshot', key: 'nightly-3', partitionBy: (r) => r.table });
    expect(first).toMatchObject({
      sink: 'snapshot',
      batchKey: 'nightly-3',
      recorded: true,
      records: 2,
      inputRange: { stream: 'CRM', firstSeq: 7, lastSeq: 9 },
    });
    expect(first.files.map((f) => f.partition)).toEqual(['customers', 'orders']);
    for (const f of first.files) expect(f.sha256).toBe(sha(readFileSync(join(dir, f.file))));
    const again = await writeStagedFiles(rows, { dir, format: 'ndjson', name: 'snapshot', key: 'nightly-3', partitionBy: (r) => r.table });
    expect(again.files).toEqual(first.files);
    expect(readdirSync(dir).sort()).toEqual([...first.files.map((f) => f.file), first.manifestPath.slice(dir.length + 1)].sort());
  });

  it('rejects a value it cannot write before writing anything, and refuses a bad config or no values at once', async () => {
    const dir = tempDir();
    await expect(writeStagedFiles([1n], { dir, format: 'ndjson', name: 's', key: 'k' })).rejects.toThrow(/record 0 cannot be written as JSON/);
    expect(readdirSync(dir)).toEqual([]);
    expect(() => writeStagedFiles(rows, { dir, format: 'ndjson', name: 's', key: '' })).toThrow(/'key'/);
    expect(() => writeStagedFiles([], { dir, format: 'ndjson', name: 's', key: 'k' })).toThrow(InvalidConfigError);
  });
});
